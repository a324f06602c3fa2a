"""The health, readiness and liveness probes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.fake_tmdb import FakeTMDb
from tests.query_count import recorded_statements


def test_health_reports_each_check(client: Any) -> None:
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok"}, "cache": {"status": "ok"}},
    }


def test_liveness_answers_while_the_process_runs(client: Any) -> None:
    assert client.get("/health/live/").get_json()["status"] == "ok"


def test_liveness_sends_no_query(app: Flask, client: Any) -> None:
    with recorded_statements(app) as statements:
        assert client.get("/health/live/").status_code == 200
    assert statements == []  # a probe every few seconds must not cost the database


def test_readiness_reports_each_dependency(client: Any) -> None:
    response = client.get("/health/ready/")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "migrations": "ok",
        "cache": "ok",
        "rate_limit_store": "ok",
        "tmdb": "ok",
    }


def test_readiness_without_a_tmdb_key_is_degraded_but_200(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_API_KEY", "")
    response = client.get("/health/ready/")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["tmdb"]["status"] == "degraded"


@pytest.fixture
def without_database(fake_tmdb: FakeTMDb) -> FlaskClient:
    """A client of another app whose database refuses connections at once: nothing listens
    on port 9 (discard)."""
    app = create_app(
        "testing",
        TMDB_BASE_URL=fake_tmdb.base_url,
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg2://nobody@127.0.0.1:9/none",
    )
    return app.test_client()


# Another app with its own engine: it must not share the suite's transaction-bound session.
@pytest.mark.committing
def test_health_is_503_naming_the_database_without_leaking_details(
    without_database: FlaskClient,
) -> None:
    response = without_database.get("/health/")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "unreachable"}
    assert body["checks"]["cache"] == {"status": "ok"}
    text = response.get_data(as_text=True)
    assert "127.0.0.1" not in text and ":9" not in text and "psycopg" not in text


@pytest.mark.committing
def test_readiness_is_503_when_the_database_is_gone(without_database: FlaskClient) -> None:
    response = without_database.get("/health/ready/")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "down"
    assert body["checks"]["database"] == {"status": "down", "detail": "unreachable"}
    assert without_database.get("/health/live/").status_code == 200
