"""A database that goes away turns into 503s, and the service recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import Movie
from tests.factories import make_movie
from tests.fake_tmdb import FakeTMDb
from tests.faults.tcp_proxy import TcpProxy

STATEMENT_TIMEOUT_MS = 1000

pytestmark = [pytest.mark.committing, pytest.mark.usefixtures("postgres_only")]


@pytest.fixture
def proxy(app: Flask) -> Iterator[TcpProxy]:
    with app.app_context():
        url = db.engine.url
    tcp_proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield tcp_proxy
    tcp_proxy.stop()


@pytest.fixture
def proxied_app(app: Flask, proxy: TcpProxy, fake_tmdb: FakeTMDb) -> Iterator[Flask]:
    with app.app_context():
        url = make_url(str(db.engine.url)).set(host="127.0.0.1", port=proxy.port)
    proxied = create_app(
        "testing",
        TMDB_BASE_URL=fake_tmdb.base_url,
        SQLALCHEMY_DATABASE_URI=url.render_as_string(hide_password=False),
        DATABASE_STATEMENT_TIMEOUT_MS=STATEMENT_TIMEOUT_MS,
    )

    @proxied.get("/test/sleep/<float:seconds>")
    def sleep_in_the_database(seconds: float) -> dict[str, str]:
        db.session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
        return {"slept": "yes"}

    yield proxied
    with proxied.app_context():
        db.engine.dispose()


def test_outage_gives_503_and_the_service_recovers_when_the_database_returns(
    proxied_app: Flask, proxy: TcpProxy
) -> None:
    client = proxied_app.test_client()
    assert client.get("/health/").status_code == 200
    assert client.get("/health/ready/").status_code == 200

    proxy.cut()
    health = client.get("/health/")
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"] == {"status": "unreachable"}
    assert client.get("/health/ready/").status_code == 503
    assert client.get("/health/live/").status_code == 200

    proxy.restore()
    assert client.get("/health/").status_code == 200
    assert client.get("/health/ready/").status_code == 200


def timed_get(client: Any, path: str) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def test_a_statement_past_the_timeout_is_503_and_the_next_request_is_served(
    proxied_app: Flask,
) -> None:
    client = proxied_app.test_client()
    assert client.get("/test/sleep/0.1").status_code == 200

    response, elapsed = timed_get(client, "/test/sleep/5.0")

    assert response.status_code == 503
    assert response.get_json()["code"] == "database_unavailable"
    assert elapsed < 3
    assert client.get("/api/v1/movies/movies/").status_code == 200


def test_a_frozen_database_gives_503s_in_time_and_the_app_recovers_without_restart(
    app: Flask, proxied_app: Flask, proxy: TcpProxy
) -> None:
    seen, unseen = make_movie(app), make_movie(app)
    client = proxied_app.test_client()
    assert client.get(f"/api/v1/movies/movies/{seen.id}/").status_code == 200

    proxy.pause()  # connections stay open, nothing comes back
    api, api_seconds = timed_get(client, f"/api/v1/movies/movies/{unseen.id}/")
    ready, ready_seconds = timed_get(client, "/health/ready/")
    live, live_seconds = timed_get(client, "/health/live/")
    again = client.get(f"/api/v1/movies/movies/{seen.id}/")

    assert api.status_code == 503 and api.get_json()["code"] == "database_unavailable"
    assert api_seconds < 5
    # A detail already in the shared catalogue cache is still served (without one, 503).
    cached = proxied_app.config["CATALOGUE_PAGE_CACHE_SECONDS"] > 0
    assert again.status_code == (200 if cached else 503)
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"]["status"] == "down"
    assert ready_seconds < 2
    assert live.status_code == 200 and live_seconds < 0.5

    proxy.resume()
    assert client.get(f"/api/v1/movies/movies/{unseen.id}/").status_code == 200
    assert client.get("/health/ready/").status_code == 200
    with proxied_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Movie)) == 2
