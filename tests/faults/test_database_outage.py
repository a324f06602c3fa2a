"""A database that goes away turns into 503s, and the service recovers by itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from tests.fake_tmdb import FakeTMDb
from tests.faults.tcp_proxy import TcpProxy

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
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": {"connect_timeout": 2}},
    )
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
