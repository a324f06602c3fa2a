"""The current user: reading and changing it (mass assignment refused), exporting
everything stored about it, and deleting it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Favorite,
    Import,
    Movie,
    Rating,
    RecommendationFeedback,
    RecommendationImpression,
    RecommendationOutcome,
    User,
    UserProfile,
    WatchHistory,
    WatchlistEntry,
    utcnow,
)
from tests.factories import (
    DEFAULT_PASSWORD,
    make_entry,
    make_genre,
    make_movie,
    make_recommendation,
    make_user,
    tokens_for,
)
from tests.helpers import USER_TABLES, assert_problem, bearer

ME = "/api/v1/auth/users/me/"
EXPORT = "/api/v1/auth/users/me/export/"


def give_library(app: Flask, user: User, movies: list[Movie], *, tag: str) -> None:
    """One row of every kind for `user`, tagged so an export can be checked for it."""
    first, second = movies
    recommendation = make_recommendation(app, user, second, explanation=f"because {tag}")
    make_entry(app, Favorite, user, first)
    make_entry(app, Rating, user, first, rating=9, review=f"review by {tag}")
    make_entry(app, WatchlistEntry, user, second)
    make_entry(app, WatchHistory, user, first, watched_at=datetime(2024, 5, 1, tzinfo=UTC))
    make_entry(
        app,
        RecommendationFeedback,
        user,
        second,
        recommendation_id=recommendation.id,
        feedback_type="like",
        comment=f"comment by {tag}",
    )
    with app.app_context():
        db.session.add(
            RecommendationImpression(
                user_id=user.id,
                movie_id=second.id,
                rank=1,
                recommendation_type="hybrid",
                model_version=f"model-{tag}",
                cold_start=False,
            )
        )
        db.session.add(
            Import(user_id=user.id, source="imdb", payload=b"Const\n", counts={}, problems=[])
        )
        db.session.commit()


def count_rows(app: Flask, user_id: int) -> dict[str, int]:
    with app.app_context():
        counts = {
            model.__tablename__: db.session.scalar(
                select(func.count()).select_from(model).where(model.user_id == user_id)
            )
            or 0
            for model in USER_TABLES
        }
        counts["users"] = (
            db.session.scalar(select(func.count()).select_from(User).where(User.id == user_id)) or 0
        )
        return counts


# GET / PATCH


def test_me_returns_the_current_user_with_the_nested_profile(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app, first_name="Ada", last_name="Lovelace")
    response = client.get(ME, headers=bearer(tokens_for(app, user)["access"]))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {
        "id",
        "username",
        "email",
        "first_name",
        "last_name",
        "full_name",
        "date_joined",
        "last_login",
        "profile",
    }
    assert body["id"] == user.id
    assert body["full_name"] == "Ada Lovelace"
    assert body["profile"]["id"] > 0
    assert body["profile"]["user"] == {"id": user.id, "username": user.username}


def test_patch_me_changes_names_username_and_profile(app: Flask, client: FlaskClient) -> None:
    genre = make_genre(app, tmdb_id=878, name="Science Fiction")
    user = make_user(app)
    response = client.patch(
        ME,
        json={
            "first_name": "Grace",
            "last_name": "Hopper",
            "username": "grace.h",
            "profile": {"bio": "Compilers and cinema.", "favorite_genres": [genre.tmdb_id]},
        },
        headers=bearer(tokens_for(app, user)["access"]),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["full_name"] == "Grace Hopper"
    assert body["username"] == "grace.h"
    assert body["profile"]["bio"] == "Compilers and cinema."
    assert body["profile"]["favorite_genres"] == [878]
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        assert (stored.first_name, stored.username) == ("Grace", "grace.h")
        assert stored.profile.favorite_genres == [878]


def test_patch_me_to_a_taken_username_is_409_and_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app, username="taken")
    user = make_user(app)
    response = client.patch(
        ME,
        json={"username": "TAKEN", "first_name": "New"},
        headers=bearer(tokens_for(app, user)["access"]),
    )
    body = assert_problem(response, 409, "username_taken")
    assert set(body["errors"]) == {"username"}
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        assert (stored.username, stored.first_name) == (user.username, "")


@pytest.mark.parametrize(
    "field",
    [
        {"is_staff": True},
        {"is_superuser": True},
        {"is_active": False},
        {"email_verified": True},
        {"id": 999},
        {"email": "new@example.com"},
        {"password_hash": "x"},
        {"token_version": 99},
        {"date_joined": "2000-01-01T00:00:00Z"},
        {"profile": {"user_id": 1}},
        {"profile": {"recommendations_stale": False}},
    ],
)
def test_mass_assignment_on_me_is_400_and_never_applied(
    app: Flask, client: FlaskClient, field: dict[str, Any]
) -> None:
    user = make_user(app)
    response = client.patch(
        ME, json={**field, "first_name": "Changed"}, headers=bearer(tokens_for(app, user)["access"])
    )
    assert_problem(response, 400, "validation_error")
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        assert not (stored.is_staff or stored.is_superuser or stored.email_verified)
        assert stored.is_active
        assert stored.email == user.email
        assert stored.first_name == ""
        assert stored.token_version == 0
        assert stored.profile.user_id == user.id


def test_patch_me_rejects_invalid_values(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    response = client.patch(
        ME,
        json={"username": "no spaces allowed", "profile": {"avatar_url": "javascript:alert(1)"}},
        headers=bearer(tokens_for(app, user)["access"]),
    )
    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {"username", "profile"}


def test_me_needs_a_token(client: FlaskClient) -> None:
    assert_problem(client.get(ME), 401, "not_authenticated")
    assert_problem(client.patch(ME, json={}), 401, "not_authenticated")


# Export


def test_export_contains_the_callers_data_and_nobody_elses(app: Flask, client: FlaskClient) -> None:
    movies = [make_movie(app, title="Alpha"), make_movie(app, title="Beta")]
    me = make_user(app, email="me@example.com", first_name="Mia")
    other = make_user(app, email="other@example.com")
    give_library(app, me, movies, tag="me")
    give_library(app, other, movies, tag="other")
    response = client.get(EXPORT, headers=bearer(tokens_for(app, me)["access"]))
    assert response.status_code == 200, response.get_json()
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_json()
    assert body["user"]["email"] == "me@example.com"
    assert body["user"]["first_name"] == "Mia"
    assert body["profile"]["id"] > 0
    sections = ("favorites", "ratings", "watchlist", "history", "recommendations", "feedback")
    for section in (*sections, "impressions"):
        assert len(body[section]) == 1, section
    assert body["ratings"][0]["review"] == "review by me"
    assert body["ratings"][0]["rating"] == 9
    assert body["ratings"][0]["movie"]["title"] == "Alpha"
    assert body["recommendations"][0]["explanation"] == "because me"
    assert body["feedback"][0]["comment"] == "comment by me"
    assert body["history"][0]["watched_at"].startswith("2024-05-01")
    text = response.get_data(as_text=True)
    assert body["impressions"][0]["model_version"] == "model-me"
    assert "other@example.com" not in text and "by other" not in text
    assert "model-other" not in text
    assert "password" not in text and "$argon2" not in text


def test_export_of_a_new_account_has_empty_sections(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    body = client.get(EXPORT, headers=bearer(tokens_for(app, user)["access"])).get_json()
    assert body["user"]["id"] == user.id
    assert body["favorites"] == body["ratings"] == body["feedback"] == body["impressions"] == []


def test_export_has_the_recommendations_shown_within_the_retention_with_their_outcomes(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDATION_IMPRESSION_RETENTION_DAYS", 30)
    old, first, second = (make_movie(app, title=title) for title in ("Old", "First", "Second"))
    user = make_user(app)
    now = utcnow()
    with app.app_context():
        shown = [
            RecommendationImpression(
                user_id=user.id,
                movie_id=movie.id,
                rank=rank,
                recommendation_type="collaborative",
                model_version="hybrid-ease@v3",
                cold_start=rank == 2,
                shown_at=now - timedelta(days=days),
            )
            for movie, rank, days in ((old, 1, 31), (second, 2, 1), (first, 1, 1))
        ]
        db.session.add_all(shown)
        db.session.flush()
        db.session.add_all(
            [
                RecommendationOutcome(impression_id=shown[2].id, kind="click", occurred_at=now),
                RecommendationOutcome(
                    impression_id=shown[2].id,
                    kind="rating",
                    rating=8.5,
                    occurred_at=now - timedelta(hours=1),
                ),
            ]
        )
        db.session.commit()

    body = client.get(EXPORT, headers=bearer(tokens_for(app, user)["access"])).get_json()

    exported = body["impressions"]
    # Older than the retention: not kept, so not exported. The rest oldest first, by rank.
    assert [(item["movie"]["title"], item["rank"]) for item in exported] == [
        ("First", 1),
        ("Second", 2),
    ]
    assert exported[0]["model_version"] == "hybrid-ease@v3"
    assert exported[0]["recommendation_type"] == "collaborative"
    assert [item["cold_start"] for item in exported] == [False, True]
    assert [(o["kind"], o["rating"]) for o in exported[0]["outcomes"]] == [
        ("rating", 8.5),
        ("click", None),
    ]
    assert exported[1]["outcomes"] == []


def test_export_needs_a_token(client: FlaskClient) -> None:
    assert_problem(client.get(EXPORT), 401, "not_authenticated")


# Deletion


def test_delete_me_removes_every_row_of_the_user_and_nothing_of_anyone_else(
    app: Flask, client: FlaskClient
) -> None:
    movies = [make_movie(app), make_movie(app)]
    me = make_user(app)
    other = make_user(app)
    give_library(app, me, movies, tag="me")
    give_library(app, other, movies, tag="other")
    my_tokens = tokens_for(app, me)
    other_tokens = tokens_for(app, other)
    # A blocklist row for each, so the cascade to token_blocklist is exercised too.
    for tokens in (my_tokens, other_tokens):
        refreshed = client.post(
            "/api/v1/auth/token/refresh/", json={"refresh": tokens["refresh"]}
        ).get_json()
        tokens.update(refreshed)
    others_before = count_rows(app, other.id)
    assert all(others_before.values())
    assert all(count_rows(app, me.id).values())

    response = client.delete(
        ME, json={"password": DEFAULT_PASSWORD}, headers=bearer(my_tokens["access"])
    )
    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.get_data() == b""

    assert set(count_rows(app, me.id).values()) == {0}
    assert count_rows(app, other.id) == others_before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Movie)) == 2
    assert_problem(client.get(ME, headers=bearer(my_tokens["access"])), 401)
    assert_problem(
        client.post("/api/v1/auth/token/refresh/", json={"refresh": my_tokens["refresh"]}), 401
    )
    assert client.get(ME, headers=bearer(other_tokens["access"])).status_code == 200


def test_delete_me_with_the_wrong_password_is_400_and_deletes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app)
    access = tokens_for(app, user)["access"]
    response = client.delete(ME, json={"password": "not-my-password"}, headers=bearer(access))
    body = assert_problem(response, 400, "wrong_password")
    assert set(body["errors"]) == {"password"}
    assert count_rows(app, user.id)["users"] == 1
    assert client.get(ME, headers=bearer(access)).status_code == 200


def test_delete_me_without_a_password_is_400(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    response = client.delete(ME, headers=bearer(tokens_for(app, user)["access"]))
    assert_problem(response, 400)
    assert count_rows(app, user.id)["users"] == 1


def test_tokens_of_a_deleted_account_never_work_for_a_new_account_with_its_id(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app)
    old_access = tokens_for(app, user)["access"]
    client.delete(ME, json={"password": DEFAULT_PASSWORD}, headers=bearer(old_access))
    with app.app_context():
        # SQLite hands out the highest id again after a delete: the same id, another person.
        db.session.add(
            User(
                id=user.id,
                email="newcomer@example.com",
                username="newcomer",
                profile=UserProfile(),
            )
        )
        db.session.commit()
    assert_problem(client.get(ME, headers=bearer(old_access)), 401, "token_revoked")


def test_no_route_lists_or_changes_other_users(app: Flask, client: FlaskClient) -> None:
    caller = make_user(app)
    other = make_user(app)
    headers = bearer(tokens_for(app, caller)["access"])
    assert_problem(client.get("/api/v1/auth/users/", headers=headers), 405)
    for method in ("get", "patch", "put", "delete"):
        response = getattr(client, method)(
            f"/api/v1/auth/users/{other.id}/", json={"password": DEFAULT_PASSWORD}, headers=headers
        )
        assert_problem(response, 404)
    assert count_rows(app, other.id)["users"] == 1
