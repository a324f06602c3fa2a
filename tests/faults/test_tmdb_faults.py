"""TMDb misbehaving (timeouts, 5xx bursts, 429 storms, malformed payloads) never breaks the
catalogue or the parts of the API that do not need TMDb; concurrent syncs never duplicate."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Genre, Movie, movie_genres
from app.services.catalogue import sync_catalogue
from tests.factories import auth_headers, make_genre, make_movie, make_user
from tests.fake_tmdb import FakeTMDb, unreachable_base_url

TMDB_BACKED = [
    "/api/v1/movies/movies/popular/",
    "/api/v1/movies/movies/top_rated/",
    "/api/v1/movies/movies/trending/?time_window=week",
    "/api/v1/movies/movies/search/?q=movie",
    "/api/v1/movies/movies/tmdb/7/",
]


def catalogue_state(app: Flask) -> tuple[Any, ...]:
    with app.app_context():
        return (
            db.session.execute(select(Movie.tmdb_id, Movie.title).order_by(Movie.tmdb_id)).all(),
            db.session.execute(select(Genre.tmdb_id, Genre.name).order_by(Genre.tmdb_id)).all(),
            db.session.scalar(select(func.count()).select_from(movie_genres)),
        )


@pytest.mark.parametrize(
    ("failure", "expected_status"),
    [("timeout", 503), ("500", 503), ("503", 503), ("429", 503), ("malformed", 502)],
)
def test_a_tmdb_storm_gives_503s_where_tmdb_is_needed_and_200s_everywhere_else(
    app: Flask, client: Any, fake_tmdb: FakeTMDb, failure: str, expected_status: int
) -> None:
    genre = make_genre(app, tmdb_id=18, name="Drama")
    movie = make_movie(app, genres=[genre])
    headers = auth_headers(app, make_user(app))
    before = catalogue_state(app)
    fake_tmdb.failure = failure
    fake_tmdb.retry_after = 0

    for path in TMDB_BACKED:
        response = client.get(path, headers=headers)
        assert response.status_code == expected_status, (path, response.get_json())
        assert response.mimetype == "application/problem+json"

    for path in (
        "/api/v1/movies/movies/",
        f"/api/v1/movies/movies/{movie.id}/",
        "/api/v1/movies/genres/",
        "/api/v1/favorites/favorites/",
        "/api/v1/recommendations/",
        f"/api/v1/recommendations/similar/{movie.id}/",
        "/health/",
    ):
        assert client.get(path, headers=headers).status_code == 200, path
    assert catalogue_state(app) == before


def test_a_5xx_burst_shorter_than_the_retries_is_invisible_to_the_client(
    client: Any, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failures = ["500", "503"]  # the client retries twice in the test config
    response = client.get("/api/v1/movies/movies/popular/")
    assert response.status_code == 200
    assert fake_tmdb.count("/movie/popular") == 3


@pytest.mark.committing
@pytest.mark.usefixtures("postgres_only")
def test_two_syncs_at_once_leave_no_duplicate_movie_or_genre(
    app: Flask, fake_tmdb: FakeTMDb
) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run_sync() -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                summary = sync_catalogue(2, sleep=0)
                assert summary.ok, summary.messages
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=run_sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        movies = db.session.scalar(select(func.count(Movie.id)))
        distinct = db.session.scalar(select(func.count(func.distinct(Movie.tmdb_id))))
        genres = db.session.scalar(select(func.count(Genre.id)))
        # Both runs finished without an error (no deadlock, no unique-key failure)...
        assert movies == distinct and movies >= 40
        # ...and every genre and movie is there once.
        assert genres == len(fake_tmdb.genres)


# --- One deadline per call ------------------------------------------------------------------
# The test config's deadline is set to 2 s here; without it each case below took from 30 s
# (a TMDb answering late) to minutes (a body trickling in) before its answer.
DEADLINE = 2.0


@pytest.fixture
def short_deadline(app: Flask, monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setitem(app.config, "TMDB_TOTAL_DEADLINE", DEADLINE)
    return DEADLINE


def timed_get(client: Any, path: str) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


@pytest.mark.parametrize("failure", ["slow", "trickle"])
def test_a_slow_or_trickling_tmdb_is_503_within_the_deadline(
    client: Any, fake_tmdb: FakeTMDb, short_deadline: float, failure: str
) -> None:
    fake_tmdb.failure = failure
    fake_tmdb.delay = 0.5 if failure == "trickle" else 30.0  # a byte every 0.5 s: no read timeout

    response, elapsed = timed_get(client, "/api/v1/movies/movies/popular/")

    assert response.status_code == 503
    assert response.get_json()["code"] == "tmdb_unavailable"
    assert elapsed < short_deadline + 1.5


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    app: Flask, client: Any, fake_tmdb: FakeTMDb, short_deadline: float, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "TMDB_MAX_RETRY_AFTER", 30.0)
    fake_tmdb.failure = "429"
    fake_tmdb.retry_after = 20

    response, elapsed = timed_get(client, "/api/v1/movies/movies/popular/")

    assert response.status_code == 503
    assert elapsed < short_deadline + 1.5
    assert fake_tmdb.count("/movie/popular") == 1  # no retry it could not finish in time


def test_a_tmdb_that_is_down_is_503_and_the_local_catalogue_still_answers(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_movie(app)
    monkeypatch.setitem(app.config, "TMDB_BASE_URL", unreachable_base_url())

    response = client.get("/api/v1/movies/movies/popular/")

    assert response.status_code == 503
    assert response.get_json()["code"] == "tmdb_unavailable"
    assert client.get("/api/v1/movies/movies/").get_json()["count"] == 1


def test_calls_beyond_the_in_flight_limit_are_refused_at_once_so_threads_stay_free(
    app: Flask, fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_MAX_CONCURRENT_CALLS", 1)
    monkeypatch.setitem(app.config, "TMDB_TOTAL_DEADLINE", 5.0)
    fake_tmdb.failure = "slow"
    first: list[int] = []

    def slow_call() -> None:
        first.append(app.test_client().get("/api/v1/movies/movies/popular/").status_code)

    waiting = threading.Thread(target=slow_call)
    waiting.start()
    while fake_tmdb.count("/movie/popular") == 0:  # the first call is now waiting on TMDb
        time.sleep(0.01)

    response = app.test_client().get("/api/v1/movies/movies/top_rated/")

    assert response.status_code == 503
    assert response.get_json()["code"] == "tmdb_unavailable"
    assert fake_tmdb.count("/movie/top_rated") == 0
    fake_tmdb.reset()  # releases the waiting call
    waiting.join(timeout=10)
    assert first == [200]
