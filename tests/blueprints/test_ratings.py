"""Ratings with reviews: /api/v1/favorites/ratings/..."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Movie, Rating, Recommendation, User, WatchlistEntry
from app.models.library import REVIEW_MAX_LENGTH
from tests.factories import T0, make_entry, make_genre, make_movie, make_recommendation, make_user
from tests.fake_tmdb import FakeTMDb
from tests.helpers import (
    assert_ordered,
    assert_problem,
    count_rows,
    recommendations_stale,
    result_ids,
    update_profile,
)

RATINGS = "/api/v1/favorites/ratings/"


@pytest.fixture
def movie(app: Flask) -> Movie:
    return make_movie(app, title="Stalker")


@pytest.fixture
def rating(app: Flask, user: User, movie: Movie) -> Rating:
    """The member's rating of `movie`: a 4, "Too slow."."""
    return make_entry(app, Rating, user, movie, rating=4, review="Too slow.")


def stored_rating(app: Flask, rating_id: int) -> tuple[Decimal, str] | None:
    with app.app_context():
        rating = db.session.get(Rating, rating_id)
        return None if rating is None else (rating.rating, rating.review)


def is_rated(app: Flask, recommendation_id: int) -> bool:
    with app.app_context():
        flag = db.session.scalar(
            select(Recommendation.is_rated).where(Recommendation.id == recommendation_id)
        )
        assert flag is not None
        return flag


# --- creating ------------------------------------------------------------------------------


def test_rate_a_movie_is_201_with_the_rating_review_and_movie(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    response = client.post(
        RATINGS,
        json={"movie": movie.id, "rating": 9, "review": "Slow and hypnotic."},
        headers=headers,
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"id", "movie", "rating", "review", "created_at", "updated_at"}
    assert (body["rating"], body["review"]) == (9, "Slow and hypnotic.")
    assert body["movie"]["id"] == movie.id and body["movie"]["title"] == "Stalker"
    assert stored_rating(app, body["id"]) == (9, "Slow and hypnotic.")


def test_the_review_is_optional_and_empty_by_default(
    client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    response = client.post(RATINGS, json={"movie": movie.id, "rating": 1}, headers=headers)
    assert response.status_code == 201
    assert response.get_json()["review"] == ""


def test_rate_by_tmdb_id_fetches_the_movie(
    client: FlaskClient, headers: dict[str, str], fake_tmdb: FakeTMDb
) -> None:
    response = client.post(RATINGS, json={"tmdb_id": 11, "rating": 6}, headers=headers)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["movie"]["tmdb_id"] == 11
    assert fake_tmdb.count("/movie/11") == 1


RATING_RULE = "Rating must be between 1 and 10 in steps of 0.5."


@pytest.mark.parametrize(
    "value",
    [0, 0.5, 11, 10.5, -1, 7.25, 7.1, 10.01, 0.99, 1e308, "abc", "7", "7.5", True, [8], {}],
)
def test_ratings_off_the_half_step_scale_are_400_stating_the_rule(
    app: Flask, client: FlaskClient, headers: dict[str, str], movie: Movie, value: Any
) -> None:
    body = assert_problem(
        client.post(RATINGS, json={"movie": movie.id, "rating": value}, headers=headers),
        400,
        "validation_error",
    )
    assert body["errors"] == {"rating": [RATING_RULE]}
    assert count_rows(app, Rating) == 0


def test_a_null_rating_is_400_naming_the_field(
    app: Flask, client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    body = assert_problem(
        client.post(RATINGS, json={"movie": movie.id, "rating": None}, headers=headers), 400
    )
    assert list(body["errors"]) == ["rating"]
    assert count_rows(app, Rating) == 0


@pytest.mark.parametrize(
    ("value", "stored"), [(1, "1.0"), (1.5, "1.5"), (7.5, "7.5"), (9.5, "9.5"), (10, "10.0")]
)
def test_half_steps_from_1_to_10_are_accepted_and_stored_exactly(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    movie: Movie,
    value: float,
    stored: str,
) -> None:
    response = client.post(RATINGS, json={"movie": movie.id, "rating": value}, headers=headers)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["rating"] == value
    with app.app_context():
        exact = db.session.get(Rating, response.get_json()["id"]).rating  # type: ignore[union-attr]
    assert isinstance(exact, Decimal) and str(exact) == stored


def test_a_rating_is_answered_as_a_json_number_with_one_decimal(
    client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    response = client.post(RATINGS, json={"movie": movie.id, "rating": 8}, headers=headers)

    assert '"rating":8.0' in response.get_data(as_text=True)
    listed = client.get(RATINGS, headers=headers).get_data(as_text=True)
    assert '"rating":8.0' in listed


def test_a_missing_rating_is_400(
    client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    body = assert_problem(client.post(RATINGS, json={"movie": movie.id}, headers=headers), 400)
    assert body["errors"] == {"rating": ["Missing data for required field."]}


def test_a_review_may_be_5000_characters_and_no_more(
    app: Flask, client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    too_long = {"movie": movie.id, "rating": 5, "review": "x" * (REVIEW_MAX_LENGTH + 1)}
    body = assert_problem(client.post(RATINGS, json=too_long, headers=headers), 400)
    assert list(body["errors"]) == ["review"]
    assert count_rows(app, Rating) == 0

    longest = {"movie": movie.id, "rating": 5, "review": "é" * REVIEW_MAX_LENGTH}
    response = client.post(RATINGS, json=longest, headers=headers)
    assert response.status_code == 201
    assert stored_rating(app, response.get_json()["id"]) == (5, "é" * REVIEW_MAX_LENGTH)


def test_rating_an_unknown_movie_is_404(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    body = assert_problem(
        client.post(RATINGS, json={"movie": 424242, "rating": 5}, headers=headers),
        404,
        "movie_not_found",
    )
    assert body["detail"] == "Movie 424242 does not exist."
    assert count_rows(app, Rating) == 0


def test_a_second_rating_of_the_same_movie_is_409_and_keeps_the_first(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    first = make_entry(app, Rating, user, movie, rating=4, review="Too slow.")

    body = assert_problem(
        client.post(
            RATINGS, json={"movie": movie.id, "rating": 10, "review": "!"}, headers=headers
        ),
        409,
        "already_rated",
    )

    assert body["existing_id"] == first.id
    assert "update that rating" in body["detail"]
    assert stored_rating(app, first.id) == (4, "Too slow.")
    assert count_rows(app, Rating) == 1


def test_rating_marks_the_users_recommendation_of_that_movie_as_rated(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    mine = make_recommendation(app, user, movie).id
    other_movie = make_recommendation(app, user, make_movie(app)).id
    other_user = make_recommendation(app, make_user(app), movie).id

    client.post(RATINGS, json={"movie": movie.id, "rating": 8}, headers=headers)

    assert is_rated(app, mine)
    assert not is_rated(app, other_movie)
    assert not is_rated(app, other_user)


def test_rating_without_a_recommendation_is_fine(
    client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    assert (
        client.post(RATINGS, json={"movie": movie.id, "rating": 8}, headers=headers).status_code
        == 201
    )


def test_rating_keeps_the_movie_on_the_watchlist_by_default(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    make_entry(app, WatchlistEntry, user, movie)

    client.post(RATINGS, json={"movie": movie.id, "rating": 8}, headers=headers)

    assert count_rows(app, WatchlistEntry, user_id=user.id) == 1


def test_remove_from_watchlist_takes_only_that_movie_off_only_the_callers_watchlist(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    make_entry(app, WatchlistEntry, user, movie)
    kept = make_entry(app, WatchlistEntry, user, make_movie(app))
    theirs = make_entry(app, WatchlistEntry, make_user(app), movie)

    response = client.post(
        RATINGS + "?remove_from_watchlist=true",
        json={"movie": movie.id, "rating": 8},
        headers=headers,
    )

    assert response.status_code == 201
    with app.app_context():
        remaining = set(db.session.scalars(select(WatchlistEntry.id)))
    assert remaining == {kept.id, theirs.id}


def test_remove_from_watchlist_must_be_a_boolean(
    app: Flask, client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    body = assert_problem(
        client.post(
            RATINGS + "?remove_from_watchlist=maybe",
            json={"movie": movie.id, "rating": 8},
            headers=headers,
        ),
        400,
    )
    assert list(body["errors"]) == ["remove_from_watchlist"]
    assert count_rows(app, Rating) == 0


def test_rating_marks_recommendations_stale(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    update_profile(app, user, recommendations_stale=False)
    client.post(RATINGS, json={"movie": movie.id, "rating": 8}, headers=headers)
    assert recommendations_stale(app, user)


# --- reading -------------------------------------------------------------------------------


def test_get_one_of_your_ratings(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    rating = make_entry(app, Rating, user, movie, rating=7, review="Good.")

    body = client.get(f"{RATINGS}{rating.id}/", headers=headers).get_json()

    assert (body["id"], body["rating"], body["review"]) == (rating.id, 7, "Good.")
    assert body["movie"]["id"] == movie.id


def test_another_users_rating_is_404_for_read_update_and_delete_and_stays_unchanged(
    app: Flask, client: FlaskClient, headers: dict[str, str], movie: Movie
) -> None:
    theirs = make_entry(app, Rating, make_user(app), movie, rating=3, review="Meh.")
    path = f"{RATINGS}{theirs.id}/"

    for response in (
        client.get(path, headers=headers),
        client.put(path, json={"rating": 10}, headers=headers),
        client.patch(path, json={"review": "Hacked"}, headers=headers),
        client.delete(path, headers=headers),
    ):
        body = assert_problem(response, 404, "rating_not_found")
        assert body["detail"] == f"Rating {theirs.id} does not exist."
    assert stored_rating(app, theirs.id) == (3, "Meh.")


def test_an_unknown_rating_id_is_404(client: FlaskClient, headers: dict[str, str]) -> None:
    assert_problem(client.get(f"{RATINGS}999999/", headers=headers), 404, "rating_not_found")
    assert_problem(client.get(f"{RATINGS}abc/", headers=headers), 404)


def test_your_rating_of_a_movie(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    make_entry(app, Rating, make_user(app), movie, rating=2)  # not the caller's
    path = f"{RATINGS}movie/{movie.id}/"

    body = assert_problem(client.get(path, headers=headers), 404, "rating_not_found")
    assert body["detail"] == f"You have not rated movie {movie.id}."

    mine = make_entry(app, Rating, user, movie, rating=9)
    body = client.get(path, headers=headers).get_json()
    assert (body["id"], body["rating"]) == (mine.id, 9)


def test_your_rating_of_an_unknown_movie_is_404_naming_the_movie(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    body = assert_problem(
        client.get(f"{RATINGS}movie/424242/", headers=headers), 404, "movie_not_found"
    )
    assert body["detail"] == "Movie 424242 does not exist."


# --- updating ------------------------------------------------------------------------------


def test_put_replaces_the_rating_and_the_review(
    app: Flask,
    client: FlaskClient,
    user: User,
    headers: dict[str, str],
    movie: Movie,
    rating: Rating,
) -> None:
    recommendation = make_recommendation(app, user, movie).id
    update_profile(app, user, recommendations_stale=False)

    response = client.put(
        f"{RATINGS}{rating.id}/", json={"rating": 9, "review": "Grew on me."}, headers=headers
    )

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["rating"], response.get_json()["review"]) == (9, "Grew on me.")
    assert stored_rating(app, rating.id) == (9, "Grew on me.")
    assert is_rated(app, recommendation)
    assert recommendations_stale(app, user)


def test_put_without_a_review_empties_it(
    app: Flask, client: FlaskClient, headers: dict[str, str], rating: Rating
) -> None:
    client.put(f"{RATINGS}{rating.id}/", json={"rating": 5}, headers=headers)

    assert stored_rating(app, rating.id) == (5, "")


def test_patch_changes_only_the_fields_sent(
    app: Flask, client: FlaskClient, headers: dict[str, str], rating: Rating
) -> None:
    path = f"{RATINGS}{rating.id}/"

    assert client.patch(path, json={"review": "Patient."}, headers=headers).status_code == 200
    assert stored_rating(app, rating.id) == (4, "Patient.")

    body = client.patch(path, json={"rating": 8}, headers=headers).get_json()
    assert (body["rating"], body["review"]) == (8, "Patient.")
    assert stored_rating(app, rating.id) == (8, "Patient.")

    body = client.patch(path, json={"rating": 6.5}, headers=headers).get_json()
    assert (body["rating"], body["review"]) == (6.5, "Patient.")
    assert stored_rating(app, rating.id) == (Decimal("6.5"), "Patient.")


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("put", {}, "rating"),
        ("put", {"review": "no score"}, "rating"),
        ("put", {"rating": 0}, "rating"),
        ("put", {"rating": 8.25}, "rating"),
        ("put", {"rating": 8, "movie": 3}, "movie"),
        ("patch", {}, "_schema"),
        ("patch", {"rating": 11}, "rating"),
        ("patch", {"rating": 8.75}, "rating"),
        ("patch", {"rating": "9"}, "rating"),
        ("patch", {"user": 1}, "user"),
    ],
)
def test_an_invalid_put_or_patch_is_400_naming_the_field_and_changes_nothing(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    rating: Rating,
    method: str,
    payload: dict[str, Any],
    field: str,
) -> None:
    response = getattr(client, method)(f"{RATINGS}{rating.id}/", json=payload, headers=headers)

    body = assert_problem(response, 400)
    assert field in body["errors"]
    assert stored_rating(app, rating.id) == (4, "Too slow.")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_updating_with_remove_from_watchlist_takes_the_movie_off_the_watchlist(
    app: Flask,
    client: FlaskClient,
    user: User,
    headers: dict[str, str],
    movie: Movie,
    method: str,
) -> None:
    rating = make_entry(app, Rating, user, movie, rating=4)
    make_entry(app, WatchlistEntry, user, movie)
    path = f"{RATINGS}{rating.id}/"

    getattr(client, method)(path, json={"rating": 6}, headers=headers)
    assert count_rows(app, WatchlistEntry, user_id=user.id) == 1

    getattr(client, method)(path + "?remove_from_watchlist=1", json={"rating": 7}, headers=headers)
    assert count_rows(app, WatchlistEntry, user_id=user.id) == 0


# --- deleting ------------------------------------------------------------------------------


def test_delete_rating_is_204_and_the_recommendation_stays_rated(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    recommendation = make_recommendation(app, user, movie).id
    created = client.post(RATINGS, json={"movie": movie.id, "rating": 8}, headers=headers)
    rating_id = created.get_json()["id"]
    update_profile(app, user, recommendations_stale=False)

    response = client.delete(f"{RATINGS}{rating_id}/", headers=headers)

    assert response.status_code == 204
    assert stored_rating(app, rating_id) is None
    assert is_rated(app, recommendation)  # it was rated: that stays true
    assert recommendations_stale(app, user)
    assert_problem(client.get(f"{RATINGS}{rating_id}/", headers=headers), 404)
    # The movie can be rated afresh.
    again = client.post(RATINGS, json={"movie": movie.id, "rating": 3}, headers=headers)
    assert again.status_code == 201


# --- listing -------------------------------------------------------------------------------


def test_list_is_newest_first_paginated_and_only_the_callers(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    mine = [
        make_entry(
            app, Rating, user, make_movie(app), rating=5, created_at=T0 + timedelta(minutes=n)
        )
        for n in range(7)
    ]
    make_entry(app, Rating, make_user(app), make_movie(app), rating=5)

    first = client.get(RATINGS + "?page_size=4", headers=headers)
    second = client.get(RATINGS + "?page_size=4&page=2", headers=headers)

    assert first.get_json()["count"] == 7
    assert result_ids(first) + result_ids(second) == [entry.id for entry in reversed(mine)]


def test_list_orders_by_your_rating_title_or_date(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    # Rated in the order b, c, a; titles a < b < c; your ratings c < a < b; the movies'
    # own vote averages run the other way, to show they are not what "rating" means here.
    b, c, a = (
        make_entry(
            app,
            Rating,
            user,
            make_movie(app, title=title, vote_average=vote_average),
            rating=rating,
            created_at=T0 + timedelta(days=day),
        )
        for day, (title, vote_average, rating) in enumerate(
            [("Brazil", 1.0, 9), ("Casablanca", 9.0, 2), ("Alien", 5.0, 6)]
        )
    )
    assert_ordered(
        client, RATINGS, headers, created_at=[b, c, a], title=[a, b, c], rating=[c, a, b]
    )


def test_list_filters_by_genre_and_refuses_unknown_orderings(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    horror = make_genre(app, tmdb_id=27, name="Horror")
    scary = make_entry(app, Rating, user, make_movie(app, genres=[horror]), rating=7)
    make_entry(app, Rating, user, make_movie(app), rating=7)

    assert result_ids(client.get(f"{RATINGS}?genre=27", headers=headers)) == [scary.id]
    body = assert_problem(client.get(f"{RATINGS}?ordering=vote_count", headers=headers), 400)
    assert list(body["errors"]) == ["ordering"]


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", RATINGS),
        ("post", RATINGS),
        ("get", RATINGS + "1/"),
        ("put", RATINGS + "1/"),
        ("patch", RATINGS + "1/"),
        ("delete", RATINGS + "1/"),
        ("get", RATINGS + "movie/1/"),
    ],
)
def test_every_ratings_operation_needs_a_token(client: FlaskClient, method: str, path: str) -> None:
    assert_problem(getattr(client, method)(path, json={"rating": 5}), 401, "not_authenticated")


def test_the_openapi_document_gives_the_rating_as_a_number_in_half_steps(
    client: FlaskClient,
) -> None:
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]

    for name in ("RatingCreate", "RatingReplace", "RatingPatch", "Rating", "ExportedRating"):
        rating = schemas[name]["properties"]["rating"]
        assert (rating["type"], rating["minimum"], rating["maximum"]) == ("number", 1, 10), name
        assert rating["multipleOf"] == 0.5 and rating["example"] == 7.5, name
