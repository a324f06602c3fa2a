"""The watchlist: /api/v1/favorites/watchlist/..."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Favorite, Movie, User, WatchlistEntry
from tests.factories import T0, auth_headers, make_entry, make_genre, make_movie, make_user
from tests.fake_tmdb import FakeTMDb
from tests.helpers import (
    assert_problem,
    count_rows,
    recommendations_stale,
    result_ids,
    update_profile,
)

WATCHLIST = "/api/v1/favorites/watchlist/"


@pytest.fixture
def movie(app: Flask) -> Movie:
    return make_movie(app, title="Paris, Texas")


def test_add_to_watchlist_is_201_with_the_movie_and_marks_recommendations_stale(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    update_profile(app, user, recommendations_stale=False)

    response = client.post(WATCHLIST, json={"movie": movie.id}, headers=headers)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"id", "movie", "created_at"}
    assert body["movie"]["id"] == movie.id and body["movie"]["title"] == "Paris, Texas"
    with app.app_context():
        stored = db.session.get(WatchlistEntry, body["id"])
        assert stored is not None and (stored.user_id, stored.movie_id) == (user.id, movie.id)
    assert recommendations_stale(app, user)


def test_add_to_watchlist_by_tmdb_id_fetches_the_movie(
    app: Flask, client: FlaskClient, headers: dict[str, str], fake_tmdb: FakeTMDb
) -> None:
    response = client.post(WATCHLIST, json={"tmdb_id": 21}, headers=headers)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["movie"]["tmdb_id"] == 21
    assert count_rows(app, Movie, tmdb_id=21) == 1
    assert fake_tmdb.count("/movie/21") == 1


def test_adding_a_movie_already_on_the_watchlist_is_409_and_keeps_the_entry(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    entry = make_entry(app, WatchlistEntry, user, movie, created_at=T0)

    body = assert_problem(
        client.post(WATCHLIST, json={"movie": movie.id}, headers=headers),
        409,
        "already_in_watchlist",
    )

    assert body["existing_id"] == entry.id
    assert body["detail"] == f"Movie {movie.id} is already on your watchlist."
    with app.app_context():
        stored = db.session.get(WatchlistEntry, entry.id)
        assert stored is not None and stored.created_at == T0
    assert count_rows(app, WatchlistEntry) == 1


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"movie": 424242}, 404),
        ({"tmdb_id": 999_999}, 404),
        ({}, 400),
        ({"movie": "x"}, 400),
        ({"movie": 1, "tmdb_id": 1}, 400),
    ],
)
def test_add_to_watchlist_refuses_unknown_movies_and_bad_bodies(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    payload: dict[str, Any],
    status: int,
) -> None:
    assert_problem(client.post(WATCHLIST, json=payload, headers=headers), status)
    assert count_rows(app, WatchlistEntry) == 0


def test_a_favorite_of_the_same_movie_is_no_conflict(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    make_entry(app, Favorite, user, movie)
    assert client.post(WATCHLIST, json={"movie": movie.id}, headers=headers).status_code == 201


def test_delete_from_watchlist_is_204_and_marks_recommendations_stale(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    entry = make_entry(app, WatchlistEntry, user, movie)
    update_profile(app, user, recommendations_stale=False)

    response = client.delete(f"{WATCHLIST}{entry.id}/", headers=headers)

    assert response.status_code == 204
    assert count_rows(app, WatchlistEntry) == 0
    assert recommendations_stale(app, user)


def test_another_users_watchlist_entry_cannot_be_deleted_and_stays(
    app: Flask, client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    theirs = make_entry(app, WatchlistEntry, make_user(app), movie)

    body = assert_problem(
        client.delete(f"{WATCHLIST}{theirs.id}/", headers=headers),
        404,
        "watchlist_entry_not_found",
    )

    assert body["detail"] == f"Watchlist entry {theirs.id} does not exist."
    assert count_rows(app, WatchlistEntry, id=theirs.id) == 1


def test_list_is_newest_first_paginated_and_only_the_callers(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    mine = [
        make_entry(app, WatchlistEntry, user, make_movie(app), created_at=T0 + timedelta(days=n))
        for n in range(5)
    ]
    make_entry(app, WatchlistEntry, make_user(app), make_movie(app))

    first = client.get(WATCHLIST + "?page_size=3", headers=headers)
    second = client.get(first.get_json()["next"], headers=headers)

    assert first.get_json()["count"] == 5
    assert result_ids(first) + result_ids(second) == [entry.id for entry in reversed(mine)]
    assert second.get_json()["next"] is None


def test_list_filters_by_genre_and_orders_by_title_or_vote_average(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    western = make_genre(app, tmdb_id=37, name="Western")
    high_noon = make_entry(
        app,
        WatchlistEntry,
        user,
        make_movie(app, title="High Noon", vote_average=7.5, genres=[western]),
    )
    unforgiven = make_entry(
        app,
        WatchlistEntry,
        user,
        make_movie(app, title="Unforgiven", vote_average=7.9, genres=[western]),
    )
    heat = make_entry(app, WatchlistEntry, user, make_movie(app, title="Heat", vote_average=7.8))

    def ids(query: str) -> list[int]:
        return result_ids(client.get(f"{WATCHLIST}?{query}", headers=headers))

    assert ids("genre=37&ordering=title") == [high_noon.id, unforgiven.id]
    assert ids("ordering=title") == [heat.id, high_noon.id, unforgiven.id]
    assert ids("ordering=-rating") == [unforgiven.id, heat.id, high_noon.id]
    assert ids("ordering=rating&genre=37") == [high_noon.id, unforgiven.id]
    assert_problem(client.get(f"{WATCHLIST}?page_size=1000", headers=headers), 400)


@pytest.mark.parametrize(
    ("method", "path"), [("get", WATCHLIST), ("post", WATCHLIST), ("delete", WATCHLIST + "1/")]
)
def test_every_watchlist_operation_needs_a_token(
    client: FlaskClient, method: str, path: str
) -> None:
    assert_problem(getattr(client, method)(path, json={"movie": 1}), 401, "not_authenticated")


def test_another_users_token_sees_their_own_watchlist_only(
    app: Flask, client: FlaskClient, user: User, movie: Movie
) -> None:
    make_entry(app, WatchlistEntry, user, movie)
    other = make_user(app)

    response = client.get(WATCHLIST, headers=auth_headers(app, other))

    assert response.get_json()["count"] == 0
