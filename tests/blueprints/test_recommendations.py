"""The recommendations API: stored batches (generated on first use, regenerated when stale),
refresh, similar movies, feedback and clicks, and nobody else's recommendation reachable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.blueprints.recommendations.schemas import RecommendationSchema
from app.extensions import db
from app.models import (
    Favorite,
    Movie,
    Recommendation,
    RecommendationFeedback,
    User,
    UserProfile,
    utcnow,
)
from app.models.recommendations import COMMENT_MAX_LENGTH
from app.services.recommendation.batches import list_batch
from app.services.recommendation.staleness import mark_recommendations_stale
from tests.factories import auth_headers, make_genre, make_movie, make_user, tokens_for
from tests.helpers import (
    assert_problem,
    check_for_news_every,
    make_catalogue,
    store_batch,
    stored_movie_ids,
    update_profile,
)
from tests.query_count import recorded_statements

URL = "/api/v1/recommendations/"
SIMILAR_MOVIE_FIELDS = {"movie", "score", "confidence_score", "recommendation_type", "explanation"}


def profile_of(app: Flask, user: User) -> UserProfile:
    with app.app_context():
        profile = db.session.scalar(select(UserProfile).where(UserProfile.user_id == user.id))
        assert profile is not None
        db.session.expunge(profile)
        return profile


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ""),
        ("post", "refresh/"),
        ("post", "feedback/"),
        ("get", "feedback/list/"),
        ("post", "1/click/"),
    ],
)
def test_personal_operations_need_a_token(client: Any, method: str, path: str) -> None:
    response = getattr(client, method)(URL + path, json={})
    assert_problem(response, 401, "not_authenticated")


# --- GET / ---------------------------------------------------------------------------------


def test_first_get_generates_and_stores_a_ranked_batch(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 30)
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["count"] == 20 and len(body["results"]) == 20
    assert body["next"] is None and body["previous"] is None
    first = body["results"][0]
    assert set(first) == {
        "id",
        "rank",
        "movie",
        "recommendation_type",
        "confidence_score",
        "explanation",
        "reasons",
        "is_clicked",
        "is_rated",
        "created_at",
        "feedback",
    }
    assert body["matched"] is None  # no filter
    assert [item["rank"] for item in body["results"]] == list(range(1, 21))
    assert first["movie"]["id"] in {movie.id for movie in movies}
    assert first["movie"]["title"].startswith("Catalogue film")
    assert first["explanation"]
    assert first["feedback"] is None and first["is_clicked"] is False
    assert 0 <= first["confidence_score"] <= 1
    assert stored_movie_ids(app, user) == [item["movie"]["id"] for item in body["results"]]
    profile = profile_of(app, user)
    assert profile.recommendations_stale is False
    assert profile.recommendations_generated_at is not None


def test_fresh_batch_is_served_without_regenerating(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 25)
    ids = store_batch(app, user, list(reversed(movies)))
    body = client.get(URL, headers=headers).get_json()
    assert [item["id"] for item in body["results"]] == ids[:20]
    assert body["results"][0]["explanation"] == "Stored reason 0"


def test_stale_batch_is_regenerated_on_the_next_get(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    make_catalogue(app, 30)
    before = client.get(URL, headers=headers).get_json()["results"]
    top_movie_id = before[0]["movie"]["id"]
    generated_at = profile_of(app, user).recommendations_generated_at
    with app.app_context():  # a new favourite changes the user's tastes
        db.session.add(Favorite(user_id=user.id, movie_id=top_movie_id))
        mark_recommendations_stale(user.id)
        db.session.commit()
    assert profile_of(app, user).recommendations_stale is True

    after = client.get(URL, headers=headers).get_json()["results"]

    assert top_movie_id not in [item["movie"]["id"] for item in after]  # liked: excluded
    assert len(after) == 20
    assert stored_movie_ids(app, user) == [item["movie"]["id"] for item in after]
    profile = profile_of(app, user)
    assert profile.recommendations_stale is False
    assert generated_at is not None and profile.recommendations_generated_at is not None
    assert profile.recommendations_generated_at > generated_at


def test_limit_caps_generation_and_pages_split_the_batch(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    make_catalogue(app, 40)
    response = client.get(
        URL, query_string={"limit": 25, "page_size": 10, "page": 3}, headers=headers
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["count"] == 25
    assert [item["rank"] for item in body["results"]] == [21, 22, 23, 24, 25]
    assert body["next"] is None
    assert "page=2" in body["previous"] and "limit=25" in body["previous"]
    assert len(stored_movie_ids(app, user)) == 25

    page_one = client.get(URL, query_string={"limit": 5}, headers=headers).get_json()
    assert page_one["count"] == 5
    assert [item["rank"] for item in page_one["results"]] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 51}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"page_size": 101}, "page_size"),
        ({"genre": -3}, "genre"),
        # The filters (test_recommendations_controls.py).
        ({"year_min": 2010, "year_max": 2000}, "year_min"),
        ({"year_min": 1200}, "year_min"),
        ({"runtime_max": 0}, "runtime_max"),
        ({"language": "english!"}, "language"),
        ({"type": "random"}, "type"),
        ({"exclude_watched": "maybe"}, "exclude_watched"),
        ({"genre": [878, "x"]}, "genre"),
    ],
)
def test_invalid_list_parameters_are_400_naming_the_field(
    client: Any, headers: dict[str, str], query: dict[str, Any], field: str
) -> None:
    body = assert_problem(
        client.get(URL, query_string=query, headers=headers), 400, "validation_error"
    )
    assert field in body["errors"]


def test_page_past_the_end_is_404(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    store_batch(app, user, make_catalogue(app, 20))
    assert_problem(
        client.get(URL, query_string={"page": 3}, headers=headers), 404, "page_not_found"
    )


def test_genre_filter_ranks_every_candidate_of_that_genre_under_their_ids(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    horror = make_genre(app, tmdb_id=27, name="Horror")
    comedy = make_genre(app, tmdb_id=35, name="Comedy")
    scary = make_catalogue(app, 3, [horror])
    funny = make_catalogue(app, 20, [comedy])
    batch = [funny[0], scary[0], funny[1], scary[1], *funny[2:19]]
    ids = store_batch(app, user, batch)

    body = client.get(URL, query_string={"genre": 27}, headers=headers).get_json()

    # The third horror film was not in the stored batch: filtered before the cut, it is.
    assert {item["movie"]["id"] for item in body["results"]} == {movie.id for movie in scary}
    assert [item["rank"] for item in body["results"]] == [1, 2, 3]
    assert body["count"] == 3 and body["matched"] == 3
    assert body["results"][0]["movie"]["genres"][0]["name"] == "Horror"
    stored_ids = {item["movie"]["id"]: item["id"] for item in body["results"]}
    assert stored_ids[scary[0].id] == ids[1] and stored_ids[scary[1].id] == ids[3]
    assert stored_movie_ids(app, user) == [movie.id for movie in batch]  # the batch is as it was
    nothing = client.get(URL, query_string={"genre": 99999}, headers=headers).get_json()
    assert nothing["count"] == 0 and nothing["results"] == [] and nothing["matched"] == 0


def test_list_shows_the_callers_feedback_on_each_movie(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 20)
    ids = store_batch(app, user, movies)
    client.post(
        URL + "feedback/",
        json={"recommendation": ids[1], "feedback_type": "like", "comment": "More please"},
        headers=headers,
    )
    update_profile(app, user, recommendations_stale=False)  # the display, not regeneration
    results = client.get(URL, headers=headers).get_json()["results"]
    assert results[0]["feedback"] is None
    assert results[1]["feedback"]["feedback_type"] == "like"
    assert results[1]["feedback"]["comment"] == "More please"


def test_list_read_as_rows_shows_what_the_entities_show(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    # The GET reads plain rows (`recommendation.shown`), not entities: every field must be
    # what the documented schema makes of the stored entities, genres and feedback included.
    genres = [make_genre(app, name="Western"), make_genre(app, name="Drama")]
    movies = make_catalogue(app, 20, genres=genres)
    ids = store_batch(app, user, movies)
    client.post(URL + f"{ids[0]}/click/", headers=headers)
    client.post(
        URL + "feedback/",
        json={"recommendation": ids[2], "feedback_type": "dislike", "comment": "Too slow"},
        headers=headers,
    )
    update_profile(app, user, recommendations_stale=False)
    results = client.get(URL, headers=headers).get_json()["results"]
    with app.test_request_context():
        expected = RecommendationSchema(many=True).dump(list_batch(user.id))
    assert [item["id"] for item in results] == [item["id"] for item in expected]
    assert results == json.loads(json.dumps(expected))
    assert results[0]["is_clicked"] is True
    assert [genre["name"] for genre in results[0]["movie"]["genres"]] == ["Drama", "Western"]
    assert results[2]["feedback"]["comment"] == "Too slow"


def test_listing_issues_the_same_number_of_queries_whatever_the_page_size(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    store_batch(app, user, make_catalogue(app, 40, [make_genre(app), make_genre(app)]))
    counts = []
    for page_size in (2, 40):
        with recorded_statements(app) as statements:
            response = client.get(
                URL, query_string={"limit": 40, "page_size": page_size}, headers=headers
            )
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


def selects(statements: list[str]) -> list[str]:
    """The queries among `statements` (SQLite adds a BEGIN to each transaction)."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def inserts(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("INSERT")]


def sent(statements: list[str]) -> list[str]:
    """Every statement but the transaction control the test harness or SQLite adds."""
    control = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")
    return [s for s in statements if not s.lstrip().upper().startswith(control)]


@pytest.mark.parametrize("catalogue_size", [25, 100])
def test_a_stored_list_is_three_statements_whatever_the_catalogue_size(
    app: Flask, client: Any, user: User, headers: dict[str, str], catalogue_size: int
) -> None:
    movies = make_catalogue(app, catalogue_size, [make_genre(app), make_genre(app)])
    store_batch(app, user, movies[:20])
    with recorded_statements(app) as statements:
        response = client.get(URL, query_string={"page_size": 5}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["count"] == 20 and len(response.get_json()["results"]) == 5
    # The token's user with its revocation check; the batch with its freshness, whether
    # the user is a cold start (for the impressions), movies, their genres and feedback.
    # No count query: the batch is counted as read. Then the impressions' INSERT, which
    # also sets its transaction's durability on PostgreSQL (no SET statement of its own).
    assert len(selects(statements)) == 2, "\n".join(s[:90] for s in statements)
    assert len(inserts(statements)) == 1, statements
    assert len(sent(statements)) == 3, statements


def test_a_token_is_refused_on_the_list_right_after_logout(
    app: Flask, client: Any, user: User
) -> None:
    store_batch(app, user, make_catalogue(app, 5))
    tokens = tokens_for(app, user)
    access = {"Authorization": f"Bearer {tokens['access']}"}
    assert client.get(URL, headers=access).status_code == 200
    logout = client.post(
        "/api/v1/auth/token/blacklist/", json={"refresh": tokens["refresh"]}, headers=access
    )
    assert logout.status_code == 200
    assert_problem(client.get(URL, headers=access), 401, "token_revoked")


# --- refresh -------------------------------------------------------------------------------


def test_refresh_issues_the_same_number_of_queries_whatever_the_batch_size(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    genres = [make_genre(app) for _ in range(4)]
    for genre in genres:
        make_catalogue(app, 15, [genre])
    client.post(URL + "refresh/", headers=headers)  # the engine loads its caches once
    counts = []
    for limit in (5, 50):
        # Once to store this size, then measured: the same rows updated in place.
        client.post(URL + "refresh/", query_string={"limit": limit}, headers=headers)
        with recorded_statements(app) as statements:
            response = client.post(URL + "refresh/", query_string={"limit": limit}, headers=headers)
        assert len(response.get_json()["recommendations"]) == limit
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_refresh_replaces_the_batch_and_reports_it(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 30)
    store_batch(app, user, movies[:20])

    response = client.post(URL + "refresh/", headers=headers)

    body = response.get_json()
    assert response.status_code == 200, body
    assert body["message"] == f"Generated {len(body['recommendations'])} recommendations"
    assert len(body["recommendations"]) == 20
    assert [item["rank"] for item in body["recommendations"]] == list(range(1, 21))
    assert not any(item["explanation"].startswith("Stored") for item in body["recommendations"])
    assert stored_movie_ids(app, user) == [item["movie"]["id"] for item in body["recommendations"]]
    with app.app_context():
        assert db.session.scalar(select(func.count(Recommendation.id))) == 20


def test_refresh_honours_limit(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    make_catalogue(app, 30)
    body = client.post(URL + "refresh/", query_string={"limit": 5}, headers=headers).get_json()
    assert body["message"] == "Generated 5 recommendations"
    assert len(stored_movie_ids(app, user)) == 5
    assert_problem(
        client.post(URL + "refresh/", query_string={"limit": 80}, headers=headers),
        400,
        "validation_error",
    )


# --- feedback ------------------------------------------------------------------------------


def test_first_feedback_is_201_and_a_second_one_replaces_it_with_200(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 20)
    ids = store_batch(app, user, movies)

    first = client.post(
        URL + "feedback/",
        json={"recommendation": ids[0], "feedback_type": "like", "comment": "Great pick"},
        headers=headers,
    )
    assert first.status_code == 201, first.get_json()
    created = first.get_json()
    assert created["recommendation"] == ids[0]
    assert created["movie"]["id"] == movies[0].id
    assert (created["feedback_type"], created["comment"]) == ("like", "Great pick")

    second = client.post(
        URL + "feedback/",
        json={"recommendation": ids[0], "feedback_type": "not_interested"},
        headers=headers,
    )
    assert second.status_code == 200, second.get_json()
    updated = second.get_json()
    assert updated["id"] == created["id"]
    assert (updated["feedback_type"], updated["comment"]) == ("not_interested", "")
    with app.app_context():
        rows = db.session.scalars(select(RecommendationFeedback)).all()
        assert [(row.movie_id, row.feedback_type) for row in rows] == [
            (movies[0].id, "not_interested")
        ]


def test_feedback_marks_recommendations_stale(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    ids = store_batch(app, user, make_catalogue(app, 20))
    assert profile_of(app, user).recommendations_stale is False
    client.post(
        URL + "feedback/",
        json={"recommendation": ids[3], "feedback_type": "dislike"},
        headers=headers,
    )
    assert profile_of(app, user).recommendations_stale is True


def test_disliked_movie_never_returns_and_its_feedback_survives_refreshes(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    make_catalogue(app, 30)
    first = client.get(URL, headers=headers).get_json()["results"]
    disliked, dismissed = first[0], first[1]
    for item, kind in ((disliked, "dislike"), (dismissed, "not_interested")):
        response = client.post(
            URL + "feedback/",
            json={"recommendation": item["id"], "feedback_type": kind},
            headers=headers,
        )
        assert response.status_code == 201

    regenerated = client.get(URL, headers=headers).get_json()["results"]
    refreshed = client.post(URL + "refresh/", headers=headers).get_json()["recommendations"]

    gone = {disliked["movie"]["id"], dismissed["movie"]["id"]}
    for batch in (regenerated, refreshed):
        assert gone.isdisjoint(item["movie"]["id"] for item in batch)
        assert len(batch) == 20
    feedback = client.get(URL + "feedback/list/", headers=headers).get_json()
    assert feedback["count"] == 2
    assert {item["movie"]["id"] for item in feedback["results"]} == gone
    # Still linked to the recommendations they were given on (soft-removed, same ids).
    assert {item["recommendation"] for item in feedback["results"]} == {
        disliked["id"],
        dismissed["id"],
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"feedback_type": "like"}, "recommendation"),
        ({"recommendation": 1}, "feedback_type"),
        ({"recommendation": 1, "feedback_type": "love"}, "feedback_type"),
        ({"recommendation": "1", "feedback_type": "like"}, "recommendation"),
        ({"recommendation": 0, "feedback_type": "like"}, "recommendation"),
        (
            {
                "recommendation": 1,
                "feedback_type": "like",
                "comment": "x" * (COMMENT_MAX_LENGTH + 1),
            },
            "comment",
        ),
        ({"recommendation": 1, "feedback_type": "like", "user": 2}, "user"),
    ],
)
def test_invalid_feedback_is_400_naming_the_field(
    client: Any, headers: dict[str, str], payload: dict[str, Any], field: str
) -> None:
    body = assert_problem(
        client.post(URL + "feedback/", json=payload, headers=headers), 400, "validation_error"
    )
    assert field in body["errors"]


def test_comment_of_the_maximum_length_is_accepted(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    ids = store_batch(app, user, make_catalogue(app, 20))
    response = client.post(
        URL + "feedback/",
        json={
            "recommendation": ids[0],
            "feedback_type": "like",
            "comment": "y" * COMMENT_MAX_LENGTH,
        },
        headers=headers,
    )
    assert response.status_code == 201
    assert len(response.get_json()["comment"]) == COMMENT_MAX_LENGTH


def test_feedback_list_is_newest_first_and_paginated(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 20)
    ids = store_batch(app, user, movies)
    for recommendation_id in ids[:3]:
        client.post(
            URL + "feedback/",
            json={"recommendation": recommendation_id, "feedback_type": "like"},
            headers=headers,
        )
    body = client.get(
        URL + "feedback/list/", query_string={"page_size": 2}, headers=headers
    ).get_json()
    assert body["count"] == 3
    assert [item["movie"]["id"] for item in body["results"]] == [movies[2].id, movies[1].id]
    assert "page=2" in body["next"]
    rest = client.get(body["next"], headers=headers).get_json()
    assert [item["movie"]["id"] for item in rest["results"]] == [movies[0].id]


# --- clicks --------------------------------------------------------------------------------


def test_click_marks_the_recommendation_clicked(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    ids = store_batch(app, user, make_catalogue(app, 20))
    response = client.post(f"{URL}{ids[2]}/click/", headers=headers)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["id"] == ids[2] and body["is_clicked"] is True and body["rank"] == 3
    with app.app_context():
        clicked = db.session.scalars(
            select(Recommendation.id).where(Recommendation.is_clicked.is_(True))
        ).all()
        assert clicked == [ids[2]]
    again = client.post(f"{URL}{ids[2]}/click/", headers=headers)
    assert again.status_code == 200 and again.get_json()["is_clicked"] is True


# --- another user's recommendation ---------------------------------------------------------


def test_another_users_recommendation_is_404_everywhere(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 20)
    other = make_user(app)
    theirs = store_batch(app, other, movies)
    mine = store_batch(app, user, movies)

    assert_problem(
        client.post(f"{URL}{theirs[0]}/click/", headers=headers), 404, "recommendation_not_found"
    )
    assert_problem(
        client.post(
            URL + "feedback/",
            json={"recommendation": theirs[0], "feedback_type": "dislike"},
            headers=headers,
        ),
        404,
        "recommendation_not_found",
    )
    assert_problem(client.post(f"{URL}999999/click/", headers=headers), 404)
    listed = client.get(URL, headers=headers).get_json()["results"]
    assert {item["id"] for item in listed} == set(mine)
    with app.app_context():
        assert db.session.scalar(select(func.count(RecommendationFeedback.id))) == 0
        assert not db.session.scalar(
            select(func.count(Recommendation.id)).where(Recommendation.is_clicked.is_(True))
        )
    other_body = client.get(URL + "feedback/list/", headers=auth_headers(app, other)).get_json()
    assert other_body["count"] == 0


# --- similar movies ------------------------------------------------------------------------


def test_similar_movies_work_anonymously_and_favour_shared_genres(app: Flask, client: Any) -> None:
    scifi = make_genre(app, tmdb_id=878, name="Science Fiction")
    comedy = make_genre(app, tmdb_id=35, name="Comedy")
    alien = make_movie(app, title="Alien", genres=[scifi])
    aliens = make_movie(app, title="Aliens", genres=[scifi])
    make_catalogue(app, 5, [comedy])

    response = client.get(f"{URL}similar/{alien.id}/")

    body = response.get_json()
    assert response.status_code == 200, body
    assert body["count"] >= 1
    result_ids = [item["movie"]["id"] for item in body["results"]]
    assert result_ids[0] == aliens.id
    assert alien.id not in result_ids
    first = body["results"][0]
    assert set(first) == SIMILAR_MOVIE_FIELDS
    assert first["movie"]["title"] == "Aliens"
    assert 0 <= first["confidence_score"] <= 1


def similar_titles(client: Any, movie_id: int) -> list[str]:
    response = client.get(f"{URL}similar/{movie_id}/")
    assert response.status_code == 200, response.get_json()
    return [item["movie"]["title"] for item in response.get_json()["results"]]


def test_a_repeated_similar_page_is_served_from_the_cache_until_the_catalogue_changes(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 60)
    noir = make_genre(app, name="Noir")
    source, other = make_movie(app, genres=[noir]), make_movie(app, title="Laura", genres=[noir])
    first = similar_titles(client, source.id)
    check_for_news_every(app, monkeypatch, 60.0)
    with recorded_statements(app) as statements:
        assert similar_titles(client, source.id) == first == ["Laura"]
    assert selects(statements) == []
    with app.app_context():  # an edit to a listed movie reaches the page
        db.session.get(Movie, other.id).title = "Laura (1944)"  # type: ignore[union-attr]
        db.session.commit()
    assert similar_titles(client, source.id) == ["Laura (1944)"]
    with app.app_context():  # and a removed movie is 404 again
        db.session.get(Movie, source.id).deleted_at = utcnow()  # type: ignore[union-attr]
        db.session.commit()
    assert_problem(client.get(f"{URL}similar/{source.id}/"), 404, "movie_not_found")


@pytest.mark.parametrize("catalogue_size", [25, 100])
def test_similar_movies_are_two_queries_whatever_the_catalogue_size(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch, catalogue_size: int
) -> None:
    genres = [make_genre(app, name="Noir"), make_genre(app, name="Crime")]
    movies = make_catalogue(app, catalogue_size, genres)
    url = f"{URL}similar/{movies[0].id}/"
    # Uncached: with a shared cache (Redis) a repeated page would send nothing (below).
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 0)
    assert client.get(url).status_code == 200  # the catalogue's arrays are built once, first
    check_for_news_every(app, monkeypatch, 60.0)
    with recorded_statements(app) as statements:
        response = client.get(url)
    body = response.get_json()
    assert response.status_code == 200 and body["count"] == 10
    # The movie (404 when unknown), the page's movies with their genres.
    assert len(selects(statements)) == 2, "\n".join(s[:90] for s in statements)
    assert [genre["name"] for genre in body["results"][0]["movie"]["genres"]] == ["Crime", "Noir"]


def test_similar_movies_honour_limit(app: Flask, client: Any) -> None:
    genre = make_genre(app)
    movies = make_catalogue(app, 12, [genre])
    body = client.get(f"{URL}similar/{movies[0].id}/", query_string={"limit": 3}).get_json()
    assert body["count"] <= 3 and len(body["results"]) <= 3
    assert_problem(
        client.get(f"{URL}similar/{movies[0].id}/", query_string={"limit": 51}),
        400,
        "validation_error",
    )


def test_similar_movies_of_an_unknown_movie_is_404(client: Any) -> None:
    assert_problem(client.get(f"{URL}similar/424242/"), 404, "movie_not_found")
    assert_problem(client.get(f"{URL}similar/abc/"), 404)


def test_a_movie_removed_from_the_catalogue_is_not_listed(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 21)
    store_batch(app, user, movies)
    with app.app_context():
        removed = db.session.get(Movie, movies[0].id)
        assert removed is not None
        removed.soft_delete()
        db.session.commit()
    body = client.get(URL, headers=headers).get_json()
    assert [item["movie"]["id"] for item in body["results"]] == [m.id for m in movies[1:21]]
