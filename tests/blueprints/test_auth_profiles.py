"""Profiles: who may list, read and write them, and what values they accept."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import User, UserProfile
from tests.factories import auth_headers, make_genre, make_user
from tests.helpers import assert_problem, update_profile
from tests.query_count import recorded_statements

PROFILES = "/api/v1/auth/profiles/"


def profile_id(app: Flask, user: User) -> int:
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        return stored.profile.id


def stored_profile(app: Flask, user: User) -> dict[str, Any]:
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        profile = stored.profile
        return {
            "bio": profile.bio,
            "avatar_url": profile.avatar_url,
            "favorite_genres": profile.favorite_genres,
            "preferred_language": profile.preferred_language,
            "mature_content": profile.mature_content,
            "recommendations_stale": profile.recommendations_stale,
            "user_id": profile.user_id,
        }


FULL_PROFILE = {
    "bio": "Westerns, mostly.",
    "avatar_url": "https://images.example.com/me.png",
    "favorite_genres": [],
    "preferred_language": "pt-BR",
    "mature_content": True,
}


# Listing


def test_a_user_lists_only_their_own_profile(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    make_user(app)
    response = client.get(PROFILES, headers=auth_headers(app, user))
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 1
    assert body["next"] is None and body["previous"] is None
    assert [item["user"]["id"] for item in body["results"]] == [user.id]


def test_staff_list_every_profile_one_page_at_a_time(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    others = [make_user(app) for _ in range(3)]
    response = client.get(PROFILES, query_string={"page_size": 2}, headers=auth_headers(app, staff))
    body = response.get_json()
    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert "page=2" in body["next"]
    second = client.get(body["next"], headers=auth_headers(app, staff)).get_json()
    listed = {item["user"]["id"] for item in body["results"] + second["results"]}
    assert listed == {staff.id, *(other.id for other in others)}


def test_a_superuser_lists_every_profile(app: Flask, client: FlaskClient) -> None:
    superuser = make_user(app, is_superuser=True)
    other = make_user(app)
    body = client.get(PROFILES, headers=auth_headers(app, superuser)).get_json()
    assert {item["user"]["id"] for item in body["results"]} == {superuser.id, other.id}


def test_profile_list_runs_a_constant_number_of_queries(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    headers = auth_headers(app, staff)

    def queries_for_a_page_of(size: int) -> int:
        with recorded_statements(app) as statements:
            response = client.get(PROFILES, query_string={"page_size": size}, headers=headers)
        assert len(response.get_json()["results"]) == size
        return len(statements)

    for _ in range(5):
        make_user(app)
    small, large = queries_for_a_page_of(1), queries_for_a_page_of(6)
    assert 0 < small == large


def test_profile_list_rejects_a_page_size_over_100(app: Flask, client: FlaskClient) -> None:
    response = client.get(
        PROFILES, query_string={"page_size": 101}, headers=auth_headers(app, make_user(app))
    )
    assert_problem(response, 400, "validation_error")


# Reading


def test_owner_reads_their_profile(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    pid = profile_id(app, user)
    response = client.get(f"{PROFILES}{pid}/", headers=auth_headers(app, user))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == pid
    assert body["user"]["id"] == user.id
    assert body["preferred_language"] == "en"
    assert body["favorite_genres"] == []


def test_another_users_profile_is_404_without_data(app: Flask, client: FlaskClient) -> None:
    owner = make_user(app)
    snooper = make_user(app)
    pid = profile_id(app, owner)
    response = client.get(f"{PROFILES}{pid}/", headers=auth_headers(app, snooper))
    body = assert_problem(response, 404, "profile_not_found")
    assert owner.username not in response.get_data(as_text=True)
    missing = client.get(f"{PROFILES}{pid + 1000}/", headers=auth_headers(app, snooper))
    assert assert_problem(missing, 404)["detail"].replace(str(pid + 1000), "N") == body[
        "detail"
    ].replace(str(pid), "N")


def test_staff_read_any_profile(app: Flask, client: FlaskClient) -> None:
    owner = make_user(app)
    staff = make_user(app, is_staff=True)
    response = client.get(f"{PROFILES}{profile_id(app, owner)}/", headers=auth_headers(app, staff))
    assert response.status_code == 200
    assert response.get_json()["user"]["id"] == owner.id


def test_profiles_need_a_token(app: Flask, client: FlaskClient) -> None:
    pid = profile_id(app, make_user(app))
    assert_problem(client.get(PROFILES), 401)
    assert_problem(client.get(f"{PROFILES}{pid}/"), 401)
    assert_problem(client.patch(f"{PROFILES}{pid}/", json={"bio": "x"}), 401)


# Writing


def test_owner_patches_their_profile(app: Flask, client: FlaskClient) -> None:
    drama = make_genre(app, tmdb_id=18, name="Drama")
    scifi = make_genre(app, tmdb_id=878, name="Science Fiction")
    user = make_user(app)
    pid = profile_id(app, user)
    response = client.patch(
        f"{PROFILES}{pid}/",
        json={"bio": "Hello", "favorite_genres": [scifi.tmdb_id, drama.tmdb_id, scifi.tmdb_id]},
        headers=auth_headers(app, user),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["favorite_genres"] == [878, 18]
    stored = stored_profile(app, user)
    assert stored["bio"] == "Hello"
    assert stored["favorite_genres"] == [878, 18]
    assert stored["preferred_language"] == "en"


def test_owner_puts_a_whole_profile(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    pid = profile_id(app, user)
    response = client.put(f"{PROFILES}{pid}/", json=FULL_PROFILE, headers=auth_headers(app, user))
    assert response.status_code == 200, response.get_json()
    stored = stored_profile(app, user)
    assert {key: stored[key] for key in FULL_PROFILE} == FULL_PROFILE


def test_put_with_missing_fields_is_400_naming_them(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    response = client.put(
        f"{PROFILES}{profile_id(app, user)}/",
        json={"bio": "only this"},
        headers=auth_headers(app, user),
    )
    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {
        "avatar_url",
        "favorite_genres",
        "preferred_language",
        "mature_content",
    }
    assert stored_profile(app, user)["bio"] == ""


def test_a_bio_change_leaves_recommendations_fresh(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    update_profile(app, user, recommendations_stale=False)
    response = client.patch(
        f"{PROFILES}{profile_id(app, user)}/",
        json={"bio": "no taste change"},
        headers=auth_headers(app, user),
    )
    assert response.status_code == 200
    assert stored_profile(app, user)["recommendations_stale"] is False


@pytest.mark.parametrize("route", ["profile", "me"])
def test_changing_favorite_genres_marks_recommendations_stale(
    app: Flask, client: FlaskClient, route: str
) -> None:
    genre = make_genre(app, tmdb_id=35, name="Comedy")
    user = make_user(app)
    update_profile(app, user, recommendations_stale=False)
    change = {"favorite_genres": [genre.tmdb_id]}
    if route == "profile":
        url, body = f"{PROFILES}{profile_id(app, user)}/", change
    else:
        url, body = "/api/v1/auth/users/me/", {"profile": change}
    response = client.patch(url, json=body, headers=auth_headers(app, user))
    assert response.status_code == 200
    assert stored_profile(app, user)["recommendations_stale"] is True


def test_unknown_genre_ids_are_400_naming_them_and_nothing_changes(
    app: Flask, client: FlaskClient
) -> None:
    make_genre(app, tmdb_id=18, name="Drama")
    user = make_user(app)
    response = client.patch(
        f"{PROFILES}{profile_id(app, user)}/",
        json={"bio": "changed", "favorite_genres": [18, 999_999, 424_242]},
        headers=auth_headers(app, user),
    )
    body = assert_problem(response, 400, "unknown_genres")
    assert "999999" in body["errors"]["favorite_genres"][0]
    assert "424242" in body["errors"]["favorite_genres"][0]
    assert "18," not in body["errors"]["favorite_genres"][0]
    stored = stored_profile(app, user)
    assert stored["favorite_genres"] == [] and stored["bio"] == ""


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"avatar_url": "ftp://example.com/me.png"}, "avatar_url"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"avatar_url": "not a url"}, "avatar_url"),
        ({"bio": "x" * 501}, "bio"),
        ({"favorite_genres": ["18"]}, "favorite_genres"),
        ({"favorite_genres": [True]}, "favorite_genres"),
        ({"favorite_genres": 18}, "favorite_genres"),
        ({"preferred_language": "english please"}, "preferred_language"),
        ({"preferred_language": "en\n"}, "preferred_language"),
        ({"mature_content": "sometimes"}, "mature_content"),
    ],
)
def test_invalid_profile_values_are_400_naming_the_field(
    app: Flask, client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    user = make_user(app)
    response = client.patch(
        f"{PROFILES}{profile_id(app, user)}/", json=changes, headers=auth_headers(app, user)
    )
    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {field}


def test_bio_of_500_characters_and_an_empty_avatar_are_accepted(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app)
    response = client.patch(
        f"{PROFILES}{profile_id(app, user)}/",
        json={"bio": "x" * 500, "avatar_url": ""},
        headers=auth_headers(app, user),
    )
    assert response.status_code == 200
    assert len(stored_profile(app, user)["bio"]) == 500


@pytest.mark.parametrize(
    "field",
    [{"user_id": 1}, {"id": 5}, {"recommendations_stale": False}, {"user": {"id": 1}}],
)
def test_mass_assignment_on_profiles_is_400_and_never_applied(
    app: Flask, client: FlaskClient, field: dict[str, Any]
) -> None:
    user = make_user(app)
    victim = make_user(app)
    update_profile(app, user, recommendations_stale=True)
    pid = profile_id(app, user)
    response = client.patch(
        f"{PROFILES}{pid}/", json={**field, "bio": "changed"}, headers=auth_headers(app, user)
    )
    assert_problem(response, 400, "validation_error")
    stored = stored_profile(app, user)
    assert stored["user_id"] == user.id and stored["bio"] == ""
    assert stored["recommendations_stale"] is True
    assert profile_id(app, user) == pid
    assert stored_profile(app, victim)["user_id"] == victim.id


@pytest.mark.parametrize("method", ["put", "patch"])
def test_writing_another_users_profile_is_404_and_changes_nothing(
    app: Flask, client: FlaskClient, method: str
) -> None:
    owner = make_user(app)
    intruder = make_user(app)
    before = stored_profile(app, owner)
    response = getattr(client, method)(
        f"{PROFILES}{profile_id(app, owner)}/",
        json=FULL_PROFILE,
        headers=auth_headers(app, intruder),
    )
    assert_problem(response, 404, "profile_not_found")
    assert stored_profile(app, owner) == before


def test_staff_may_write_another_users_profile(app: Flask, client: FlaskClient) -> None:
    owner = make_user(app)
    staff = make_user(app, is_staff=True)
    response = client.patch(
        f"{PROFILES}{profile_id(app, owner)}/",
        json={"bio": "Moderated."},
        headers=auth_headers(app, staff),
    )
    assert response.status_code == 200
    assert stored_profile(app, owner)["bio"] == "Moderated."
    assert stored_profile(app, staff)["bio"] == ""


def test_profile_of_a_soft_deleted_user_is_hidden_even_from_staff(
    app: Flask, client: FlaskClient
) -> None:
    owner = make_user(app)
    staff = make_user(app, is_staff=True)
    pid = profile_id(app, owner)
    with app.app_context():
        stored = db.session.get(User, owner.id)
        assert stored is not None
        stored.soft_delete()
        db.session.commit()
    assert_problem(client.get(f"{PROFILES}{pid}/", headers=auth_headers(app, staff)), 404)
    listed = client.get(PROFILES, headers=auth_headers(app, staff)).get_json()["results"]
    assert pid not in [item["id"] for item in listed]
    with app.app_context():
        assert db.session.get(UserProfile, pid) is not None
