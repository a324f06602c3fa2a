"""One throttling budget per caller across the whole API, login and registration apart."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask, has_app_context

from app.extensions import limiter
from app.ratelimit import WindowRedisStorage, rate_limit_storage_uri
from tests.factories import auth_headers, make_user


def signed_in_with_budgets(
    app: Flask, monkeypatch: pytest.MonkeyPatch, *, anonymous: str, user: str
) -> dict[str, str]:
    """The budgets set for this test; the headers of a new user's access token."""
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", anonymous)
    monkeypatch.setitem(app.config, "RATELIMIT_USER", user)
    return auth_headers(app, make_user(app))


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
    headers = signed_in_with_budgets(app, monkeypatch, anonymous="1/minute", user="3/minute")
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


def test_probes_and_the_documentation_count_against_no_budget(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", "1/minute")
    paths = ("/health/live/", "/health/ready/", "/api/openapi.json", "/api/docs/")
    statuses = [client.get(path).status_code for path in paths for _ in range(3)]
    assert statuses == [200] * 12
    assert client.get("/api/v1/movies/genres/").status_code == 200  # the budget is untouched
    assert client.get("/api/v1/movies/genres/").status_code == 429


def test_a_tampered_token_counts_by_address_even_after_the_genuine_one(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = signed_in_with_budgets(app, monkeypatch, anonymous="1/minute", user="5/minute")
    assert client.get("/api/v1/movies/genres/", headers=headers).status_code == 200
    header, payload, signature = headers["Authorization"].split(".")
    tampered = {"Authorization": f"{header}.{payload}.{signature[:-4]}AAAA"}
    assert client.get("/api/v1/movies/genres/", headers=tampered).status_code == 200
    refused = client.get("/api/v1/movies/genres/", headers=tampered)
    assert refused.status_code == 429  # the address's budget of 1, not the user's 5
    assert client.get("/api/v1/movies/genres/", headers=headers).status_code == 200


def test_counting_a_request_in_redis_takes_one_round_trip(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count, the remaining budget and the reset time of the headers all come from the
    one increment (Flask-Limiter alone would ask Redis three times a request)."""
    if not app.config["REDIS_URL"]:
        pytest.skip("needs Redis (set TEST_REDIS_URL)")
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", "5/minute")
    with app.app_context():
        storage = limiter.storage
    assert isinstance(storage, WindowRedisStorage)
    commands: list[str] = []
    send = storage.storage.execute_command

    def counted(*args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return send(*args, **options)

    monkeypatch.setattr(storage.storage, "execute_command", counted)
    before = time.time()
    responses = [client.get("/api/v1/movies/genres/") for _ in range(3)]
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in responses] == [4, 3, 2]
    assert {r.headers["X-RateLimit-Limit"] for r in responses} == {"5"}
    reset = int(responses[0].headers["X-RateLimit-Reset"])
    assert before + 55 <= reset <= time.time() + 61  # the end of this one-minute window
    assert commands == ["EVALSHA"] * 3


def test_the_window_storage_answers_like_limits_own_outside_a_request(app: Flask) -> None:
    """The admin's login form counts in an app context, with no request to keep the window
    in: reading it then asks Redis, as limits' RedisStorage does."""
    if not app.config["REDIS_URL"]:
        pytest.skip("needs Redis (set TEST_REDIS_URL)")
    storage = WindowRedisStorage(rate_limit_storage_uri(app.config["REDIS_URL"]))
    assert not has_app_context()
    storage.clear("window-test")
    assert [storage.incr("window-test", 60) for _ in range(2)] == [1, 2]
    assert storage.get("window-test") == 2
    assert time.time() + 55 <= storage.get_expiry("window-test") <= time.time() + 61
    storage.clear("window-test")
