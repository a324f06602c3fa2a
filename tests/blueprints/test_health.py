"""The health, readiness and liveness probes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app import create_app
from tests.fake_tmdb import FakeTMDb


def test_health_reports_each_check(client: Any) -> None:
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok"}, "cache": {"status": "ok"}},
    }


def test_liveness_answers_while_the_process_runs(client: Any) -> None:
    assert client.get("/health/live/").get_json()["status"] == "ok"


def test_readiness_needs_the_database_at_the_latest_migration(client: Any) -> None:
    response = client.get("/health/ready/")
    assert response.status_code == 200
    assert response.get_json()["checks"]["migrations"] == {"status": "ok"}


def unreachable_database_app(fake_tmdb: FakeTMDb) -> Flask:
    # Nothing listens on port 9 (discard): connections are refused at once.
    return create_app(
        "testing",
        TMDB_BASE_URL=fake_tmdb.base_url,
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg2://nobody@127.0.0.1:9/none",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": {"connect_timeout": 2}},
    )


# Another app with its own engine: it must not share the suite's transaction-bound session.
@pytest.mark.committing
def test_health_is_503_naming_the_database_without_leaking_details(fake_tmdb: FakeTMDb) -> None:
    client = unreachable_database_app(fake_tmdb).test_client()
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "unreachable"}
    assert body["checks"]["cache"] == {"status": "ok"}
    text = response.get_data(as_text=True)
    assert "127.0.0.1" not in text and ":9" not in text and "psycopg" not in text


@pytest.mark.committing
def test_readiness_is_503_when_the_database_is_gone(fake_tmdb: FakeTMDb) -> None:
    client = unreachable_database_app(fake_tmdb).test_client()
    response = client.get("/health/ready/")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == {"status": "unreachable"}
    assert client.get("/health/live/").status_code == 200
