"""Reverse proxies: whose X-Forwarded-* headers are believed, absolute URLs that never
reflect the client's Host, and no server banner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.factories import make_movie
from tests.fake_tmdb import FakeTMDb

ROOT = Path(__file__).resolve().parent.parent
HTTPS_VIA_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}


def app_with(fake_tmdb: FakeTMDb, **config: Any) -> Flask:
    return create_app("testing", TMDB_BASE_URL=fake_tmdb.base_url, **config)


def test_forwarded_headers_are_ignored_by_default(fake_tmdb: FakeTMDb) -> None:
    client = app_with(fake_tmdb).test_client()
    response = client.get("/health/live/", headers=HTTPS_VIA_PROXY)
    assert "Strict-Transport-Security" not in response.headers


def test_forwarded_headers_are_believed_only_from_the_allowed_proxies(
    fake_tmdb: FakeTMDb,
) -> None:
    client = app_with(fake_tmdb, FORWARDED_ALLOW_IPS=["10.0.0.0/24"]).test_client()
    via_proxy = client.get(
        "/health/live/", headers=HTTPS_VIA_PROXY, environ_base={"REMOTE_ADDR": "10.0.0.5"}
    )
    assert via_proxy.headers["Strict-Transport-Security"] == "max-age=31536000"
    direct = client.get(
        "/health/live/", headers=HTTPS_VIA_PROXY, environ_base={"REMOTE_ADDR": "192.0.2.9"}
    )
    assert "Strict-Transport-Security" not in direct.headers


def test_page_links_use_the_configured_server_name_not_the_host_header(
    app: Flask, fake_tmdb: FakeTMDb
) -> None:
    configured = app_with(fake_tmdb, SERVER_NAME="api.example.com", PREFERRED_URL_SCHEME="https")
    make_movie(app)
    make_movie(app)
    client = configured.test_client()
    response = client.get("/api/v1/movies/movies/?page_size=1", headers={"Host": "evil.example"})
    assert response.status_code == 200, response.get_json()
    assert (
        response.get_json()["next"]
        == "https://api.example.com/api/v1/movies/movies/?page_size=1&page=2"
    )


def test_without_a_server_name_page_links_follow_the_request(
    app: Flask, client: FlaskClient
) -> None:
    make_movie(app)
    make_movie(app)
    response = client.get("/api/v1/movies/movies/?page_size=1")
    assert (
        response.get_json()["next"] == "http://localhost/api/v1/movies/movies/?page_size=1&page=2"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_sends_no_server_banner_and_ignores_forwarded_proto() -> None:
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 48,
        "JWT_SECRET_KEY": "j" * 48,
        "WEB_CONCURRENCY": "1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    env.pop("FORWARDED_ALLOW_IPS", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        response = None
        # Generous: a loaded machine can take many seconds to import the app.
        deadline = time.monotonic() + 90
        while response is None and time.monotonic() < deadline:
            try:
                response = requests.get(
                    f"http://127.0.0.1:{port}/health/live/", headers=HTTPS_VIA_PROXY, timeout=20
                )
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        assert response is not None and response.status_code == 200
        assert "Server" not in response.headers
        assert "Strict-Transport-Security" not in response.headers
    finally:
        server.terminate()
        server.wait(timeout=30)
