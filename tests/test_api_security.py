"""API security (OWASP API Security Top 10, 2023), end to end through the HTTP API.

API1 object-level authorisation, API2 broken authentication, API3 property-level
authorisation (mass assignment), API4 unbounded consumption, API5 function-level
authorisation, API8 security misconfiguration (CORS, headers, error leakage).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask_jwt_extended import create_access_token
from sqlalchemy import select

import config
from app import create_app
from app.extensions import db
from app.models import (
    Favorite,
    Rating,
    Recommendation,
    RecommendationFeedback,
    User,
    UserProfile,
    WatchHistory,
    WatchlistEntry,
)
from app.services import catalogue
from tests.factories import auth_headers, make_movie, make_recommendation, make_user, tokens_for
from tests.fake_tmdb import FakeTMDb

API = "/api/v1"


def _create(app: Flask, row: Any) -> int:
    with app.app_context():
        db.session.add(row)
        db.session.commit()
        return int(row.id)


def _snapshot(app: Flask, model: Any, row_id: int) -> dict[str, Any] | None:
    with app.app_context():
        row = db.session.get(model, row_id)
        if row is None:
            return None
        return {c.key: getattr(row, c.key) for c in model.__table__.columns}


@pytest.fixture
def owner_and_intruder(app: Flask) -> tuple[User, User, dict[str, str], dict[str, str]]:
    owner, intruder = make_user(app), make_user(app)
    return owner, intruder, auth_headers(app, owner), auth_headers(app, intruder)


# --- API1: broken object-level authorisation ------------------------------------------------


def owned_rows(app: Flask, owner: User) -> dict[str, tuple[Any, int]]:
    movie = make_movie(app)
    recommendation_id = make_recommendation(app, owner, movie, confidence_score=0.5).id
    with app.app_context():
        profile_id = db.session.scalar(
            select(UserProfile.id).where(UserProfile.user_id == owner.id)
        )
    return {
        "favorite": (Favorite, _create(app, Favorite(user_id=owner.id, movie_id=movie.id))),
        "rating": (
            Rating,
            _create(app, Rating(user_id=owner.id, movie_id=movie.id, rating=8, review="Mine.")),
        ),
        "watchlist": (
            WatchlistEntry,
            _create(app, WatchlistEntry(user_id=owner.id, movie_id=movie.id)),
        ),
        "history": (WatchHistory, _create(app, WatchHistory(user_id=owner.id, movie_id=movie.id))),
        "recommendation": (Recommendation, recommendation_id),
        "feedback": (
            RecommendationFeedback,
            _create(
                app,
                RecommendationFeedback(
                    user_id=owner.id,
                    movie_id=movie.id,
                    recommendation_id=recommendation_id,
                    feedback_type="like",
                ),
            ),
        ),
        "profile": (UserProfile, int(profile_id or 0)),
    }


def intrusions(rows: dict[str, tuple[Any, int]]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(resource, method, path, body) for every way to touch another user's object."""
    rid = {name: row_id for name, (_, row_id) in rows.items()}
    return [
        ("profile", "get", f"{API}/auth/profiles/{rid['profile']}/", {}),
        ("profile", "patch", f"{API}/auth/profiles/{rid['profile']}/", {"bio": "pwned"}),
        (
            "profile",
            "put",
            f"{API}/auth/profiles/{rid['profile']}/",
            {
                "bio": "pwned",
                "avatar_url": "",
                "favorite_genres": [],
                "preferred_language": "en",
                "mature_content": True,
            },
        ),
        ("favorite", "delete", f"{API}/favorites/favorites/{rid['favorite']}/", {}),
        ("rating", "get", f"{API}/favorites/ratings/{rid['rating']}/", {}),
        ("rating", "patch", f"{API}/favorites/ratings/{rid['rating']}/", {"rating": 1}),
        ("rating", "put", f"{API}/favorites/ratings/{rid['rating']}/", {"rating": 1}),
        ("rating", "delete", f"{API}/favorites/ratings/{rid['rating']}/", {}),
        ("watchlist", "delete", f"{API}/favorites/watchlist/{rid['watchlist']}/", {}),
        ("history", "delete", f"{API}/movies/history/{rid['history']}/", {}),
        (
            "recommendation",
            "post",
            f"{API}/recommendations/{rid['recommendation']}/click/",
            {},
        ),
        (
            "feedback",
            "post",
            f"{API}/recommendations/feedback/",
            {"recommendation": rid["recommendation"], "feedback_type": "dislike"},
        ),
    ]


def test_no_user_can_read_change_or_delete_another_users_objects(
    app: Flask, client: Any, owner_and_intruder: Any
) -> None:
    owner, _, _, intruder_headers = owner_and_intruder
    rows = owned_rows(app, owner)
    before = {name: _snapshot(app, model, row_id) for name, (model, row_id) in rows.items()}
    for resource, method, path, body in intrusions(rows):
        response = getattr(client, method)(path, json=body or None, headers=intruder_headers)
        assert response.status_code == 404, (resource, method, path, response.get_json())
        text = response.get_data(as_text=True)
        assert "Mine." not in text and owner.email not in text
    after = {name: _snapshot(app, model, row_id) for name, (model, row_id) in rows.items()}
    assert after == before


def test_lists_show_only_the_callers_own_objects(
    app: Flask, client: Any, owner_and_intruder: Any
) -> None:
    owner, _, _, intruder_headers = owner_and_intruder
    owned_rows(app, owner)
    for path in (
        f"{API}/favorites/favorites/",
        f"{API}/favorites/ratings/",
        f"{API}/favorites/watchlist/",
        f"{API}/movies/history/",
        f"{API}/recommendations/feedback/list/",
    ):
        body = client.get(path, headers=intruder_headers).get_json()
        assert body["count"] == 0, path
    profiles = client.get(f"{API}/auth/profiles/", headers=intruder_headers).get_json()
    assert [p["user"]["username"] for p in profiles["results"]] != [owner.username]
    assert owner.username not in json.dumps(profiles)


# --- API2: broken authentication ------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_401(response: Any) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


def test_tampered_unsigned_expired_and_wrong_type_tokens_are_all_401(
    app: Flask, client: Any
) -> None:
    user = make_user(app)
    tokens = tokens_for(app, user)
    header, payload, signature = tokens["access"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    escalated = _b64({**claims, "sub": "999999"})
    with app.app_context(), app.test_request_context():
        expired = create_access_token(
            identity=str(user.id),
            additional_claims={"ver": 0},
            expires_delta=timedelta(seconds=-5),
        )
    forged = {
        "tampered signature": f"{header}.{payload}.{signature[::-1]}",
        "tampered claims": f"{header}.{escalated}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "expired": expired,
        "refresh used as access": tokens["refresh"],
        "garbage": "not-a-token",
    }
    for name, token in forged.items():
        response = client.get(f"{API}/auth/users/me/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.mimetype == "application/problem+json", name
    access_as_refresh = client.post(
        f"{API}/auth/token/refresh/", json={"refresh": tokens["access"]}
    )
    _assert_401(access_as_refresh)


def test_revoked_and_rotated_tokens_are_refused(app: Flask, client: Any) -> None:
    user = make_user(app)
    tokens = tokens_for(app, user)
    rotated = client.post(f"{API}/auth/token/refresh/", json={"refresh": tokens["refresh"]})
    assert rotated.status_code == 200
    _assert_401(client.post(f"{API}/auth/token/refresh/", json={"refresh": tokens["refresh"]}))

    fresh = tokens_for(app, user)
    headers = {"Authorization": f"Bearer {fresh['access']}"}
    logout = client.post(
        f"{API}/auth/token/blacklist/", json={"refresh": fresh["refresh"]}, headers=headers
    )
    assert logout.status_code == 200
    _assert_401(client.get(f"{API}/auth/users/me/", headers=headers))
    _assert_401(client.post(f"{API}/auth/token/refresh/", json={"refresh": fresh["refresh"]}))


def test_every_protected_operation_refuses_anonymous_callers(app: Flask, client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            security = operation.get("security") if isinstance(operation, dict) else None
            if not security or {} in security:  # no auth, or optional auth
                continue
            concrete = path
            for parameter in operation.get("parameters", []) + operations.get("parameters", []):
                if parameter.get("in") == "path":
                    concrete = concrete.replace("{" + parameter["name"] + "}", "1")
            response = getattr(client, method)(concrete, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 20


# --- API3: mass assignment ------------------------------------------------------------------


PRIVILEGED = {"is_staff": True, "is_superuser": True, "is_active": False, "id": 999, "user": 1}


def test_write_schemas_refuse_fields_the_client_must_not_set(app: Flask, client: Any) -> None:
    user = make_user(app)
    headers = auth_headers(app, user)
    movie = make_movie(app)
    with app.app_context():
        profile_id = db.session.scalar(select(UserProfile.id).where(UserProfile.user_id == user.id))
    writes = [
        ("patch", f"{API}/auth/users/me/", {"first_name": "Eve"}),
        ("patch", f"{API}/auth/profiles/{profile_id}/", {"bio": "hi"}),
        ("post", f"{API}/favorites/favorites/", {"movie": movie.id}),
        ("post", f"{API}/favorites/watchlist/", {"movie": movie.id}),
        ("post", f"{API}/favorites/ratings/", {"movie": movie.id, "rating": 7}),
        ("post", f"{API}/movies/history/", {"movie": movie.id}),
    ]
    for method, path, body in writes:
        for field, value in PRIVILEGED.items():
            response = getattr(client, method)(path, json={**body, field: value}, headers=headers)
            assert response.status_code == 400, (path, field, response.get_json())
            assert field in response.get_json()["errors"], (path, field)
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        assert (stored.is_staff, stored.is_superuser, stored.is_active) == (False, False, True)
        assert stored.first_name == ""


def test_registration_cannot_create_a_staff_account(client: Any, app: Flask) -> None:
    response = client.post(
        f"{API}/auth/users/",
        json={
            "email": "mallory@example.com",
            "username": "mallory",
            "password": "a-long-and-unusual-phrase",
            "password_confirm": "a-long-and-unusual-phrase",
            "is_staff": True,
        },
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "mallory")) is None


# --- API4: unbounded resource consumption ---------------------------------------------------


def test_page_sizes_limits_and_text_lengths_are_capped(app: Flask, client: Any) -> None:
    user = make_user(app)
    headers = auth_headers(app, user)
    movie = make_movie(app)
    assert client.get(f"{API}/movies/movies/?page_size=101").status_code == 400
    assert (
        client.get(f"{API}/favorites/favorites/?page_size=1000", headers=headers).status_code == 400
    )
    assert client.get(f"{API}/recommendations/?limit=51", headers=headers).status_code == 400
    assert client.get(f"{API}/recommendations/similar/{movie.id}/?limit=51").status_code == 400
    long_review = client.post(
        f"{API}/favorites/ratings/",
        json={"movie": movie.id, "rating": 7, "review": "x" * 5001},
        headers=headers,
    )
    assert long_review.status_code == 400 and "review" in long_review.get_json()["errors"]
    long_bio = client.patch(
        f"{API}/auth/users/me/", json={"profile": {"bio": "x" * 501}}, headers=headers
    )
    assert long_bio.status_code == 400


def test_request_bodies_over_the_limit_are_413(app: Flask, client: Any) -> None:
    headers = auth_headers(app, make_user(app))
    body = json.dumps({"review": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    response = client.post(
        f"{API}/favorites/ratings/", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_rate_limits_answer_429(app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", "2/minute")
    statuses = [client.get(f"{API}/movies/movies/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


# --- API5: broken function-level authorisation ----------------------------------------------


def test_staff_only_operations_are_refused_to_normal_users(app: Flask, client: Any) -> None:
    headers = auth_headers(app, make_user(app))
    response = client.post(f"{API}/movies/genres/sync/", headers=headers)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert client.get("/admin/movies/", headers=headers).status_code in (302, 401, 403)


# --- API8: security misconfiguration --------------------------------------------------------


def test_cors_allows_only_configured_origins_including_preflight(client: Any) -> None:
    preflight = client.options(
        f"{API}/movies/movies/",
        headers={"Origin": "http://localhost:4200", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == "http://localhost:4200"
    hostile = client.options(
        f"{API}/movies/movies/",
        headers={"Origin": "https://attacker.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in hostile.headers


@pytest.mark.parametrize(
    "path",
    [
        "/health/",
        "/api/openapi.json",
        f"{API}/movies/movies/",
        f"{API}/nope/",
        f"{API}/movies/movies/0/",
    ],
)
def test_security_headers_on_every_response(client: Any, path: str) -> None:
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "Server" not in headers or "/" not in headers["Server"]


def test_production_errors_carry_no_stack_trace_or_sql(
    fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Strong secrets, as a real deployment sets them in the environment.
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "s" * 48)
    monkeypatch.setattr(config.ProductionConfig, "JWT_SECRET_KEY", "j" * 48)
    production = create_app("production", TMDB_BASE_URL=fake_tmdb.base_url)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("SELECT password_hash FROM users -- internal detail")

    # A bug in a service: the error must reach the client as a bare 500.
    monkeypatch.setattr(catalogue, "list_movies", broken)
    response = production.test_client().get(f"{API}/movies/movies/")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "SELECT" not in text and "Traceback" not in text and "password_hash" not in text
    assert response.get_json()["code"] == "internal_error"
