"""One throttling budget per caller across the whole API, login and registration apart."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.factories import auth_headers, make_user


def test_the_anonymous_budget_is_shared_by_every_route(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", "3/minute")
    assert client.get("/api/v1/movies/movies/").status_code == 200
    assert client.get("/api/v1/movies/genres/").status_code == 200
    assert client.get("/api/v1/movies/movies/").status_code == 200
    refused = client.get("/api/v1/movies/genres/")
    assert refused.status_code == 429
    assert refused.get_json()["code"] == "rate_limited"


def test_a_signed_in_user_has_a_budget_of_their_own(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", "1/minute")
    monkeypatch.setitem(app.config, "RATELIMIT_USER", "3/minute")
    headers = auth_headers(app, make_user(app))
    assert client.get("/api/v1/movies/movies/").status_code == 200
    assert client.get("/api/v1/movies/movies/").status_code == 429  # the anonymous budget is spent
    statuses = [client.get("/api/v1/movies/movies/", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_an_exhausted_budget_never_blocks_logging_in(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, email="kim@example.com", password="a-long-and-unusual-phrase")
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", "1/minute")
    client.get("/api/v1/movies/movies/")
    assert client.get("/api/v1/movies/movies/").status_code == 429
    response = client.post(
        "/api/v1/auth/login/",
        json={"email": "kim@example.com", "password": "a-long-and-unusual-phrase"},
    )
    assert response.status_code == 200
