"""Concurrent identical POSTs to the library, against the real PostgreSQL.

Each thread has its own test client (and so its own app context, session and database
connection); a barrier releases them together. The unique constraints must give exactly
one 201 and 409s for the rest: never a 500 and never two rows.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask

from app.models import Favorite, Movie, Rating, WatchlistEntry
from tests.factories import auth_headers, make_movie, make_user
from tests.helpers import count_rows

THREADS = 8

CASES = {
    "favorite": ("/api/v1/favorites/favorites/", {}, Favorite),
    "rating": ("/api/v1/favorites/ratings/", {"rating": 8, "review": "Twice?"}, Rating),
    "watchlist": ("/api/v1/favorites/watchlist/", {}, WatchlistEntry),
}


def post_at_once(
    app: Flask, path: str, payload: dict[str, Any], headers: dict[str, str]
) -> list[tuple[int, dict[str, Any]]]:
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(path, json=payload, headers=headers)
        with lock:
            results.append((response.status_code, response.get_json(force=True)))

    threads = [threading.Thread(target=post) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == THREADS, "a thread did not finish"
    return results


def assert_one_created_rest_conflicts(results: list[tuple[int, dict[str, Any]]]) -> int:
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (THREADS - 1), results
    created_id = next(body["id"] for status, body in results if status == 201)
    for status, body in results:
        if status == 409:
            assert body["existing_id"] == created_id
    return created_id


@pytest.mark.committing
@pytest.mark.postgres
@pytest.mark.parametrize("case", list(CASES))
def test_concurrent_identical_posts_give_one_201_and_409s_and_one_row(
    app: Flask, postgres_only: None, case: str
) -> None:
    path, extra, model = CASES[case]
    user = make_user(app)
    movie = make_movie(app)
    headers = auth_headers(app, user)

    results = post_at_once(app, path, {"movie": movie.id, **extra}, headers)

    created_id = assert_one_created_rest_conflicts(results)
    assert count_rows(app, model, user_id=user.id, movie_id=movie.id) == 1
    assert count_rows(app, model, id=created_id) == 1


@pytest.mark.committing
@pytest.mark.postgres
def test_concurrent_posts_by_tmdb_id_save_the_movie_once_and_the_favorite_once(
    app: Flask, postgres_only: None
) -> None:
    user = make_user(app)
    headers = auth_headers(app, user)

    results = post_at_once(app, CASES["favorite"][0], {"tmdb_id": 42}, headers)

    assert_one_created_rest_conflicts(results)
    assert count_rows(app, Movie, tmdb_id=42) == 1
    assert count_rows(app, Favorite, user_id=user.id) == 1
