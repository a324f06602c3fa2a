"""Redis stopped mid-traffic: the API keeps answering (the cache becomes a miss, the rate
limiter counts in-process), readiness says what is degraded, the admin answers a 503 page,
and everything goes back to Redis when it returns. Against a real redis-server the test
starts on its own port and kills, and the API under gunicorn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
from flask import Flask

from app.extensions import db
from app.redis_connections import redis_client_options
from app.resilient_cache import ResilientRedisCache
from tests.factories import DEFAULT_PASSWORD, make_movie, make_user
from tests.fake_tmdb import API_KEY, FakeTMDb
from tests.faults.servers import ApiServer, RedisServer, wait_until

pytestmark = pytest.mark.skipif(RedisServer.binary is None, reason="needs redis-server")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.kill()


def test_a_cache_failure_is_a_miss_and_redis_is_used_again_once_back(
    redis_server: RedisServer,
) -> None:
    client = redis.Redis.from_url(
        redis_server.url, **redis_client_options({"REDIS_SOCKET_TIMEOUT": 0.5})
    )
    cache = ResilientRedisCache(host=client)
    cache.retry_seconds = 0.2
    assert cache.set("answer", 42) and cache.get("answer") == 42

    redis_server.kill()
    assert cache.get("answer") is None
    assert cache.set("answer", 43) is False
    assert cache.delete("answer") is False
    assert cache.ping() is False

    redis_server.start()
    time.sleep(cache.retry_seconds)
    assert cache.set("answer", 44)
    assert cache.get("answer") == 44


@pytest.fixture
def api(app: Flask, redis_server: RedisServer, fake_tmdb: FakeTMDb) -> Iterator[ApiServer]:
    with app.app_context():
        database_url = db.engine.url.render_as_string(hide_password=False)
    server = ApiServer(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "TMDB_API_KEY": API_KEY,
            "TMDB_BASE_URL": fake_tmdb.base_url,
            "RATELIMIT_ANONYMOUS": "5/minute",
            "RATELIMIT_USER": "100000/hour",
            "CACHE_RETRY_SECONDS": "1",
            "CATALOGUE_PAGE_CACHE_SECONDS": "60",
        }
    )
    server.start()
    yield server
    server.stop()


def call(method: str, url: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, url, timeout=10, **kwargs)
    return response, time.monotonic() - started


@pytest.mark.committing
def test_with_redis_killed_reads_and_writes_answer_and_redis_is_used_again_when_back(
    app: Flask, api: ApiServer, redis_server: RedisServer
) -> None:
    movies = [make_movie(app) for _ in range(12)]
    user = make_user(app)
    login = requests.post(
        api.base_url + "/api/v1/auth/login/",
        json={"email": user.email, "password": DEFAULT_PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['tokens']['access']}"}
    assert requests.get(api.base_url + "/api/v1/movies/movies/", headers=headers).status_code == 200
    assert redis_server.key_count() > 0  # counters and cached pages live in Redis

    redis_server.kill()

    statuses, worst = [], 0.0
    for movie in movies[:10]:
        for method, path, body in (
            ("GET", "/api/v1/movies/movies/", None),
            ("GET", "/api/v1/movies/genres/", None),
            ("POST", "/api/v1/favorites/favorites/", {"movie": movie.id}),
        ):
            response, elapsed = call(method, api.base_url + path, headers=headers, json=body)
            statuses.append(response.status_code)
            worst = max(worst, elapsed)
    assert set(statuses) <= {200, 201}, statuses
    assert statuses.count(201) == 10  # every write was saved
    assert worst < 2.0

    # The limits still hold, counted in the process: the 6th anonymous call is refused.
    anonymous = [call("GET", api.base_url + "/api/v1/movies/genres/")[0] for _ in range(6)]
    assert [r.status_code for r in anonymous] == [200] * 5 + [429]

    ready, elapsed = call("GET", api.base_url + "/health/ready/")
    assert ready.status_code == 200 and elapsed < 2.0
    checks = ready.json()["checks"]
    assert ready.json()["status"] == "degraded"
    assert checks["database"]["status"] == "ok"
    assert checks["cache"]["status"] == "degraded"
    assert checks["rate_limit_store"]["status"] == "degraded"

    admin = requests.get(api.base_url + "/admin/", cookies={"admin_session": "x" * 32}, timeout=10)
    assert admin.status_code == 503
    assert "The admin is unavailable" in admin.text
    assert "falling back to in-memory storage" in api.output()

    redis_server.start()

    def back_on_redis() -> bool:
        requests.get(api.base_url + "/api/v1/movies/movies/", headers=headers, timeout=10)
        return redis_server.key_count() > 0

    assert wait_until(back_on_redis, 40, 0.25)
    assert wait_until(
        lambda: requests.get(api.base_url + "/health/ready/", timeout=5).json()["status"] == "ok",
        40,
        0.25,
    )
