"""GET /api/v1/movies/genres/ and POST /api/v1/movies/genres/sync/ (staff only)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Genre, utcnow
from tests.factories import auth_headers, make_genre, make_movie, make_user
from tests.fake_tmdb import FakeTMDb
from tests.helpers import assert_problem

URL = "/api/v1/movies/genres/"
SYNC_URL = "/api/v1/movies/genres/sync/"


def stored_genres(app: Flask) -> list[tuple[int, str]]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(Genre.tmdb_id, Genre.name).order_by(Genre.tmdb_id)
            ).all()
        ]


def test_genres_are_listed_by_name_with_their_movie_counts(app: Flask, client: FlaskClient) -> None:
    drama = make_genre(app, tmdb_id=18, name="Drama")
    action = make_genre(app, tmdb_id=28, name="Action")
    make_genre(app, tmdb_id=99, name="Documentary")
    make_movie(app, genres=[drama, action])
    make_movie(app, genres=[drama])
    make_movie(app, genres=[drama], deleted_at=utcnow())  # removed: not counted
    body = client.get(URL).get_json()
    assert body == [
        {"id": action.id, "tmdb_id": 28, "name": "Action", "movie_count": 1},
        {"id": body[1]["id"], "tmdb_id": 99, "name": "Documentary", "movie_count": 0},
        {"id": drama.id, "tmdb_id": 18, "name": "Drama", "movie_count": 2},
    ]


def test_no_genres_is_an_empty_list(client: FlaskClient) -> None:
    assert client.get(URL).get_json() == []


def test_staff_sync_stores_tmdbs_genres_and_returns_them(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    staff = make_user(app, is_staff=True)
    response = client.post(SYNC_URL, headers=auth_headers(app, staff))
    assert response.status_code == 200
    body = response.get_json()
    assert [genre["name"] for genre in body][:3] == ["Action", "Adventure", "Animation"]
    assert len(body) == 10
    assert all(genre["movie_count"] == 0 for genre in body)
    assert stored_genres(app) == sorted((g["id"], g["name"]) for g in fake_tmdb.genres)


def test_sync_renames_changed_genres_adds_new_ones_and_keeps_the_ids(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    staff = make_user(app, is_staff=True)
    old = make_genre(app, tmdb_id=878, name="Sci-Fi")
    client.post(SYNC_URL, headers=auth_headers(app, staff))  # fills the cache too
    fake_tmdb.genres = [*fake_tmdb.genres, {"id": 10752, "name": "War"}]
    fake_tmdb.genres[8] = {"id": 878, "name": "Science-Fiction"}
    body = client.post(SYNC_URL, headers=auth_headers(app, staff)).get_json()
    assert fake_tmdb.count("/genre/movie/list") == 2  # a sync never answers from the cache
    renamed = next(genre for genre in body if genre["tmdb_id"] == 878)
    assert renamed == {"id": old.id, "tmdb_id": 878, "name": "Science-Fiction", "movie_count": 0}
    assert (10752, "War") in stored_genres(app)


def test_syncing_twice_changes_nothing(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    staff = make_user(app, is_staff=True)
    first = client.post(SYNC_URL, headers=auth_headers(app, staff)).get_json()
    second = client.post(SYNC_URL, headers=auth_headers(app, staff)).get_json()
    assert first == second


def test_sync_is_403_for_a_user_who_is_not_staff(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    user = make_user(app)
    assert_problem(client.post(SYNC_URL, headers=auth_headers(app, user)), 403, "staff_only")
    assert fake_tmdb.requests == []
    assert stored_genres(app) == []


def test_sync_is_401_without_a_token(client: FlaskClient) -> None:
    assert_problem(client.post(SYNC_URL), 401)


def test_sync_when_tmdb_fails_is_503_and_keeps_the_genres(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    staff = make_user(app, is_staff=True)
    make_genre(app, tmdb_id=18, name="Drama")
    fake_tmdb.failure = "500"
    assert_problem(client.post(SYNC_URL, headers=auth_headers(app, staff)), 503, "tmdb_unavailable")
    assert stored_genres(app) == [(18, "Drama")]


def test_sync_of_a_malformed_genre_list_is_502_and_saves_none(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    staff = make_user(app, is_staff=True)
    fake_tmdb.failure = "bad_shape"
    assert_problem(
        client.post(SYNC_URL, headers=auth_headers(app, staff)), 502, "tmdb_bad_response"
    )
    assert stored_genres(app) == []


def test_counts_are_reused_for_the_configured_time_and_renewed_by_a_sync(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "GENRE_COUNTS_CACHE_SECONDS", 60)
    drama = make_genre(app, tmdb_id=18, name="Drama")
    assert client.get(URL).get_json()[0]["movie_count"] == 0
    make_movie(app, genres=[drama])
    assert client.get(URL).get_json()[0]["movie_count"] == 0  # the cached count
    staff = make_user(app, is_staff=True)
    assert client.post(SYNC_URL, headers=auth_headers(app, staff)).status_code == 200
    counts = {genre["name"]: genre["movie_count"] for genre in client.get(URL).get_json()}
    assert counts["Drama"] == 1
