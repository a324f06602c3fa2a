"""Fixtures shared by the whole suite.

The schema is built once per run with the real migrations (`flask db upgrade`), on SQLite
by default or on PostgreSQL when TEST_DATABASE_URL points there. Each test runs inside an
outer transaction that is rolled back afterwards; the app's own commits and rollbacks
become SAVEPOINTs, so a 409 that rolls back inside the app cannot leak rows either.
Tests marked `committing` (threads, subprocesses) commit for real and empty every table
afterwards.

No app context stays pushed while a test makes requests (a request would reuse it, and
with it `g` and the session); use the `app_context` helper around direct database work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy import MetaData, text
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.extensions import cache, db, limiter
from app.models import Base, Genre
from app.services.recommendation.model_versions import TRAINING_REQUEST_HOOK
from app.services.recommender import reset_caches as reset_recommender_caches
from tests.factories import make_genre
from tests.fake_tmdb import FakeTMDb, start_fake_tmdb

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def reset_schema(app: Flask) -> None:
    """Drop everything (alembic_version included) and migrate from nothing to head."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            engine.dispose()
            if database and database != ":memory:":
                Path(database).unlink(missing_ok=True)
        else:
            with engine.begin() as connection:
                reflected = MetaData()
                reflected.reflect(bind=connection)
                reflected.drop_all(bind=connection)
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(directory=str(MIGRATIONS_DIR))


@pytest.fixture(scope="session")
def fake_tmdb() -> Iterator[FakeTMDb]:
    server = start_fake_tmdb()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app(fake_tmdb: FakeTMDb) -> Iterator[Flask]:
    application = create_app("testing", TMDB_BASE_URL=fake_tmdb.base_url)
    reset_schema(application)
    yield application
    with application.app_context():
        db.engine.dispose()
        if db.engine.dialect.name == "sqlite" and db.engine.url.database:
            for suffix in ("", "-wal", "-shm"):
                Path(db.engine.url.database + suffix).unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _isolate(request: pytest.FixtureRequest, app: Flask, fake_tmdb: FakeTMDb) -> Iterator[None]:
    """A clean database, cache, rate-limit storage, fake TMDb and recommendation engine (no
    cached catalogue or item model) for every test."""
    fake_tmdb.reset()
    with app.app_context():
        cache.clear()
        limiter.reset()
        reset_recommender_caches()
    if request.node.get_closest_marker("committing"):
        yield
        empty_all_tables(app)
        return
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original_session = db.session
        # A plain Session: Flask-SQLAlchemy's own would pick the engine per table and
        # ignore the connection that holds the outer transaction.
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_ctx_id,
        )
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
            db.session = original_session
            transaction.rollback()
            connection.close()


def empty_all_tables(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def is_postgres(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


@pytest.fixture
def postgres_only(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("needs the real PostgreSQL (set TEST_DATABASE_URL)")


@pytest.fixture
def training_requests(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reasons of the item-model training requests made during the test, recorded instead
    of reaching the job runner (the app's own hook is restored afterwards)."""
    requests: list[str] = []
    monkeypatch.setitem(app.extensions, TRAINING_REQUEST_HOOK, requests.append)
    return requests


@pytest.fixture
def drama(app: Flask) -> Genre:
    return make_genre(app, tmdb_id=18, name="Drama")
