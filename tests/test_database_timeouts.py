"""The checkout ping of pooled PostgreSQL connections: only after they sat idle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2.extensions
import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from app import database_timeouts
from app.database_timeouts import install_deadlines

pytestmark = pytest.mark.usefixtures("postgres_only")

sent: list[str] = []


class RecordingCursor(psycopg2.extensions.cursor):
    def execute(self, query: Any, vars: Any = None) -> Any:  # noqa: A002 - psycopg2's name
        sent.append(query if isinstance(query, str) else query.decode())
        return super().execute(query, vars)


def pooled_engine(app: Flask, ping_after_idle: float) -> Engine:
    engine = create_engine(
        app.config["SQLALCHEMY_DATABASE_URI"],
        pool_size=1,
        connect_args={"cursor_factory": RecordingCursor},
    )
    install_deadlines(engine, statement_ms=2000, ping_after_idle=ping_after_idle)
    return engine


def pings() -> int:
    return sent.count("SELECT 1")


@pytest.fixture(autouse=True)
def no_statements_yet() -> Iterator[None]:
    sent.clear()
    yield
    sent.clear()


def use(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 2"))


def test_a_connection_returned_a_moment_ago_is_handed_out_without_a_ping(app: Flask) -> None:
    engine = pooled_engine(app, ping_after_idle=60)
    for _ in range(3):
        use(engine)
    assert pings() == 1  # the new connection's first checkout only
    assert sent.count("SELECT 2") == 3
    engine.dispose()


def test_a_connection_idle_past_the_limit_is_pinged_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = pooled_engine(app, ping_after_idle=1)
    use(engine)
    later = database_timeouts.time.monotonic() + 2
    monkeypatch.setattr(database_timeouts.time, "monotonic", lambda: later)
    use(engine)
    assert pings() == 2
    engine.dispose()


def test_zero_pings_every_checkout(app: Flask) -> None:
    engine = pooled_engine(app, ping_after_idle=0)
    for _ in range(3):
        use(engine)
    assert pings() == 3
    engine.dispose()
