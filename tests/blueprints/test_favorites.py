"""Favourites: /api/v1/favorites/favorites/ and favorites/check/{movie_id}/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Favorite, Genre, Movie, User, WatchlistEntry
from tests.factories import T0, auth_headers, make_entry, make_genre, make_movie, make_user
from tests.fake_tmdb import FakeTMDb
from tests.helpers import (
    assert_ordered,
    assert_problem,
    count_rows,
    recommendations_stale,
    result_ids,
    update_profile,
)
from tests.query_count import recorded_statements

FAVORITES = "/api/v1/favorites/favorites/"


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def science_fiction(app: Flask) -> Genre:
    return make_genre(app, tmdb_id=878, name="Science Fiction")


@pytest.fixture
def movie(app: Flask, science_fiction: Genre) -> Movie:
    genre = science_fiction
    return make_movie(
        app, genres=[genre], title="The Matrix", tmdb_id=603, poster_path="/matrix.jpg"
    )


# --- adding --------------------------------------------------------------------------------


def test_add_favorite_by_local_id_is_201_with_the_movie_embedded(
    app: Flask,
    client: FlaskClient,
    user: User,
    headers: dict[str, str],
    movie: Movie,
    science_fiction: Genre,
) -> None:
    response = client.post(FAVORITES, json={"movie": movie.id}, headers=headers)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"id", "movie", "created_at"}
    assert body["movie"] == {
        "id": movie.id,
        "tmdb_id": 603,
        "title": "The Matrix",
        "poster_path": "/matrix.jpg",
        "release_date": "2015-01-01",
        "vote_average": 7.0,
        "genres": [{"id": science_fiction.id, "tmdb_id": 878, "name": "Science Fiction"}],
    }
    with app.app_context():
        stored = db.session.get(Favorite, body["id"])
        assert stored is not None
        assert (stored.user_id, stored.movie_id) == (user.id, movie.id)


def test_add_favorite_by_tmdb_id_fetches_the_movie_from_tmdb_and_saves_it(
    app: Flask, client: FlaskClient, headers: dict[str, str], fake_tmdb: FakeTMDb
) -> None:
    response = client.post(FAVORITES, json={"tmdb_id": 7}, headers=headers)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["movie"]["tmdb_id"] == 7
    assert response.get_json()["movie"]["title"] == "Movie 7"
    assert fake_tmdb.count("/movie/7") == 1
    with app.app_context():
        saved = db.session.scalar(select(Movie).where(Movie.tmdb_id == 7))
        assert saved is not None and saved.id == response.get_json()["movie"]["id"]


def test_add_favorite_by_tmdb_id_of_a_local_movie_does_not_call_tmdb(
    client: FlaskClient, headers: dict[str, str], movie: Movie, fake_tmdb: FakeTMDb
) -> None:
    response = client.post(FAVORITES, json={"tmdb_id": 603}, headers=headers)

    assert response.status_code == 201
    assert response.get_json()["movie"]["id"] == movie.id
    assert fake_tmdb.requests == []


def test_add_favorite_of_a_tmdb_id_tmdb_does_not_know_is_404(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    response = client.post(FAVORITES, json={"tmdb_id": 999_999}, headers=headers)

    assert_problem(response, 404)
    assert count_rows(app, Favorite) == 0


@pytest.mark.parametrize(("failure", "status"), [("500", 503), ("401", 502)])
def test_add_favorite_by_tmdb_id_when_tmdb_fails_is_a_clear_5xx_and_saves_nothing(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    fake_tmdb: FakeTMDb,
    failure: str,
    status: int,
) -> None:
    fake_tmdb.failure = failure

    assert_problem(client.post(FAVORITES, json={"tmdb_id": 8}, headers=headers), status)
    assert count_rows(app, Favorite) == 0
    assert count_rows(app, Movie, tmdb_id=8) == 0


def test_add_favorite_of_an_unknown_local_movie_is_404_naming_it(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    body = assert_problem(
        client.post(FAVORITES, json={"movie": 424242}, headers=headers), 404, "movie_not_found"
    )
    assert body["detail"] == "Movie 424242 does not exist."
    assert count_rows(app, Favorite) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"movie": 1, "tmdb_id": 603},
        {"movie": "1"},
        {"movie": 1.5},
        {"movie": True},
        {"movie": 0},
        {"movie": 2**31},
        {"movie": None},
        {"tmdb_id": -3},
        {"movie": 1, "user": 2},
    ],
)
def test_add_favorite_with_an_invalid_body_is_400_naming_the_field(
    app: Flask, client: FlaskClient, headers: dict[str, str], movie: Movie, payload: dict[str, Any]
) -> None:
    body = assert_problem(
        client.post(FAVORITES, json=payload, headers=headers), 400, "validation_error"
    )
    assert set(body["errors"]) <= {"movie", "tmdb_id", "user"}
    assert body["errors"]
    assert count_rows(app, Favorite) == 0


def test_duplicate_favorite_is_409_with_the_existing_id_and_keeps_the_original(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    original = make_entry(app, Favorite, user, movie, created_at=T0)

    body = assert_problem(
        client.post(FAVORITES, json={"movie": movie.id}, headers=headers), 409, "already_favorited"
    )

    assert body["existing_id"] == original.id
    assert "already in your favourites" in body["detail"]
    assert count_rows(app, Favorite) == 1
    with app.app_context():
        stored = db.session.get(Favorite, original.id)
        assert stored is not None and stored.created_at == T0


def test_duplicate_by_tmdb_id_is_409_too(
    client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    first = client.post(FAVORITES, json={"movie": movie.id}, headers=headers)
    body = assert_problem(client.post(FAVORITES, json={"tmdb_id": 603}, headers=headers), 409)
    assert body["existing_id"] == first.get_json()["id"]


def test_another_user_can_favorite_the_same_movie(
    app: Flask, client: FlaskClient, user: User, movie: Movie
) -> None:
    make_entry(app, Favorite, user, movie)
    other = make_user(app)

    response = client.post(FAVORITES, json={"movie": movie.id}, headers=auth_headers(app, other))

    assert response.status_code == 201
    assert count_rows(app, Favorite, movie_id=movie.id) == 2


def test_favouriting_leaves_the_watchlist_alone_and_marks_recommendations_stale(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    make_entry(app, WatchlistEntry, user, movie)
    update_profile(app, user, recommendations_stale=False)

    assert client.post(FAVORITES, json={"movie": movie.id}, headers=headers).status_code == 201

    assert count_rows(app, WatchlistEntry, user_id=user.id) == 1
    assert recommendations_stale(app, user)


def test_a_refused_duplicate_does_not_mark_recommendations_stale(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    make_entry(app, Favorite, user, movie)
    update_profile(app, user, recommendations_stale=False)

    assert client.post(FAVORITES, json={"movie": movie.id}, headers=headers).status_code == 409

    assert not recommendations_stale(app, user)


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", FAVORITES),
        ("post", FAVORITES),
        ("delete", FAVORITES + "1/"),
        ("get", FAVORITES + "check/1/"),
    ],
)
def test_every_favorites_operation_needs_a_token(
    client: FlaskClient, method: str, path: str
) -> None:
    response = getattr(client, method)(path, json={"movie": 1})
    assert_problem(response, 401, "not_authenticated")
    response = getattr(client, method)(
        path, json={"movie": 1}, headers={"Authorization": "Bearer not-a-token"}
    )
    assert_problem(response, 401)


def test_a_deleted_users_token_no_longer_reaches_their_favorites(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    make_entry(app, Favorite, user, movie)
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        stored.soft_delete()
        db.session.commit()

    assert_problem(client.get(FAVORITES, headers=headers), 401)


# --- listing -------------------------------------------------------------------------------


def test_list_is_newest_first_and_paginated(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    entries = [
        make_entry(app, Favorite, user, make_movie(app), created_at=T0 + timedelta(hours=n))
        for n in range(12)
    ]
    newest_first = [entry.id for entry in reversed(entries)]

    first = client.get(FAVORITES + "?page_size=5", headers=headers)
    body = first.get_json()
    assert body["count"] == 12
    assert result_ids(first) == newest_first[:5]
    assert body["previous"] is None
    assert body["next"] == "http://localhost/api/v1/favorites/favorites/?page_size=5&page=2"

    last = client.get(FAVORITES + "?page_size=5&page=3", headers=headers)
    assert result_ids(last) == newest_first[10:]
    assert last.get_json()["next"] is None
    assert last.get_json()["previous"].endswith("page=2")

    assert_problem(client.get(FAVORITES + "?page_size=5&page=4", headers=headers), 404)


def test_an_empty_list_is_a_page_with_no_results(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = client.get(FAVORITES, headers=headers)
    assert response.get_json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_list_shows_only_the_callers_favorites(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    mine = make_entry(app, Favorite, user, movie)
    make_entry(app, Favorite, make_user(app), movie)
    make_entry(app, Favorite, make_user(app), make_movie(app))

    assert result_ids(client.get(FAVORITES, headers=headers)) == [mine.id]


def test_list_filters_by_tmdb_genre_id(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    drama = make_genre(app, tmdb_id=18, name="Drama")
    comedy = make_genre(app, tmdb_id=35, name="Comedy")
    both = make_entry(app, Favorite, user, make_movie(app, genres=[drama, comedy]))
    dramatic = make_entry(app, Favorite, user, make_movie(app, genres=[drama]))
    make_entry(app, Favorite, user, make_movie(app, genres=[comedy]))
    make_entry(app, Favorite, user, make_movie(app))

    assert sorted(result_ids(client.get(FAVORITES + "?genre=18", headers=headers))) == sorted(
        [both.id, dramatic.id]
    )
    assert client.get(FAVORITES + "?genre=35", headers=headers).get_json()["count"] == 2
    assert client.get(FAVORITES + "?genre=99", headers=headers).get_json()["count"] == 0


def test_list_orders_by_date_added_title_or_vote_average(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    # Added in the order b, c, a; titles a < b < c (case ignored); votes c < a < b.
    b = make_entry(
        app, Favorite, user, make_movie(app, title="Brazil", vote_average=8.0), created_at=T0
    )
    c = make_entry(
        app,
        Favorite,
        user,
        make_movie(app, title="casablanca", vote_average=6.0),
        created_at=T0 + timedelta(days=1),
    )
    a = make_entry(
        app,
        Favorite,
        user,
        make_movie(app, title="Alien", vote_average=7.0),
        created_at=T0 + timedelta(days=2),
    )
    assert_ordered(
        client, FAVORITES, headers, created_at=[b, c, a], title=[a, b, c], rating=[c, a, b]
    )


@pytest.mark.parametrize(
    "query",
    [
        "ordering=popularity",
        "ordering=",
        "genre=abc",
        "genre=0",
        "page_size=101",
        "page_size=0",
        "page=0",
        "page=x",
    ],
)
def test_list_with_invalid_parameters_is_400(
    client: FlaskClient, headers: dict[str, str], query: str
) -> None:
    body = assert_problem(client.get(f"{FAVORITES}?{query}", headers=headers), 400)
    assert body["code"] == "validation_error"
    assert set(body["errors"]) == {query.split("=")[0]}


def test_favorites_of_movies_removed_from_the_catalogue_are_not_listed(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    kept = make_entry(app, Favorite, user, make_movie(app))
    make_entry(app, Favorite, user, movie)
    with app.app_context():
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.soft_delete()
        db.session.commit()

    assert result_ids(client.get(FAVORITES, headers=headers)) == [kept.id]


@pytest.mark.parametrize("path", [FAVORITES, "/api/v1/favorites/watchlist/"])
def test_a_page_runs_the_same_number_of_queries_whatever_its_size(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], path: str
) -> None:
    genres = [make_genre(app) for _ in range(3)]
    model = Favorite if path == FAVORITES else WatchlistEntry
    for n in range(50):
        make_entry(app, model, user, make_movie(app, genres=genres[: n % 3 + 1]))

    counts = {}
    for size in (5, 50):
        with recorded_statements(app) as statements:
            response = client.get(f"{path}?page_size={size}", headers=headers)
        assert len(response.get_json()["results"]) == size
        assert all(item["movie"]["genres"] for item in response.get_json()["results"])
        counts[size] = len(statements)

    assert counts[5] == counts[50]


# --- removing ------------------------------------------------------------------------------


def test_delete_favorite_is_204_and_removes_it(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    favorite = make_entry(app, Favorite, user, movie)
    update_profile(app, user, recommendations_stale=False)

    response = client.delete(f"{FAVORITES}{favorite.id}/", headers=headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert count_rows(app, Favorite) == 0
    assert count_rows(app, Movie, id=movie.id) == 1
    assert recommendations_stale(app, user)
    assert_problem(client.delete(f"{FAVORITES}{favorite.id}/", headers=headers), 404)


def test_another_users_favorite_cannot_be_deleted_and_stays(
    app: Flask, client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    theirs = make_entry(app, Favorite, make_user(app), movie)

    body = assert_problem(
        client.delete(f"{FAVORITES}{theirs.id}/", headers=headers), 404, "favorite_not_found"
    )

    assert body["detail"] == f"Favourite {theirs.id} does not exist."
    assert count_rows(app, Favorite, id=theirs.id) == 1


@pytest.mark.parametrize("favorite_id", ["999999", "abc", "0", "-1", str(2**31)])
def test_deleting_an_unknown_or_malformed_favorite_id_is_404(
    client: FlaskClient, headers: dict[str, str], favorite_id: str
) -> None:
    assert_problem(client.delete(f"{FAVORITES}{favorite_id}/", headers=headers), 404)


# --- check ---------------------------------------------------------------------------------


def test_check_says_whether_the_caller_favorited_a_movie(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    path = f"{FAVORITES}check/{movie.id}/"
    make_entry(app, Favorite, make_user(app), movie)  # someone else's does not count

    assert client.get(path, headers=headers).get_json() == {"is_favorited": False}
    make_entry(app, Favorite, user, movie)
    assert client.get(path, headers=headers).get_json() == {"is_favorited": True}


def test_check_of_an_unknown_movie_is_404(client: FlaskClient, headers: dict[str, str]) -> None:
    body = assert_problem(
        client.get(f"{FAVORITES}check/424242/", headers=headers), 404, "movie_not_found"
    )
    assert body["detail"] == "Movie 424242 does not exist."


# --- documentation -------------------------------------------------------------------------


def test_the_openapi_document_describes_every_library_operation(client: FlaskClient) -> None:
    document = client.get("/api/schema/").get_json()
    paths = document["paths"]
    prefix = "/api/v1/favorites/"
    expected = {
        "favorites/": {"get", "post"},
        "favorites/{favorite_id}/": {"delete"},
        "favorites/check/{movie_id}/": {"get"},
        "ratings/": {"get", "post"},
        "ratings/{rating_id}/": {"get", "put", "patch", "delete"},
        "ratings/movie/{movie_id}/": {"get"},
        "watchlist/": {"get", "post"},
        "watchlist/{entry_id}/": {"delete"},
    }
    for path, methods in expected.items():
        operations = paths[prefix + path]
        assert set(operations) - {"parameters"} == methods, path
        for method in methods:
            operation = operations[method]
            assert operation["security"] == [{"bearerAuth": []}], (path, method)
            assert "401" in operation["responses"], (path, method)
            assert "404" in operation["responses"], (path, method)
    for path in ("favorites/", "ratings/", "watchlist/"):
        conflict = paths[prefix + path]["post"]["responses"]["409"]
        reference = conflict["content"]["application/problem+json"]["schema"]["$ref"]
        schema = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
        assert "existing_id" in schema["properties"]
        assert "400" in paths[prefix + path]["post"]["responses"]
