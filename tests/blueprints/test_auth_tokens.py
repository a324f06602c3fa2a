"""Registration, login, token refresh (rotation), logout, verification, password change,
token failures and throttling of /api/v1/auth/."""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token
from sqlalchemy import func, select

from app.extensions import db
from app.models import TokenBlocklist, User
from app.services import tokens as token_service
from app.services.passwords import verify_password
from tests.factories import DEFAULT_PASSWORD, make_user, tokens_for
from tests.helpers import assert_problem

AUTH = "/api/v1/auth"
NEW_PASSWORD = "lunar-tide-compass-88"


def register_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": "Ada.Lovelace@Example.COM",
        "username": "ada_l",
        "password": "analytical-engine-1843",
        "password_confirm": "analytical-engine-1843",
        "first_name": "Ada",
        "last_name": "Lovelace",
    }
    body.update(overrides)
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    return client.post(f"{AUTH}/login/", json={"email": email, "password": password})


def get_me(client: FlaskClient, access: str) -> Any:
    return client.get(f"{AUTH}/users/me/", headers=bearer(access))


# Registration


def test_register_returns_201_with_user_and_working_tokens(app: Flask, client: FlaskClient) -> None:
    response = client.post(f"{AUTH}/users/", json=register_body())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["message"] == "Registration successful."
    assert body["user"]["email"] == "ada.lovelace@example.com"
    assert body["user"]["username"] == "ada_l"
    assert body["user"]["full_name"] == "Ada Lovelace"
    assert body["user"]["profile"]["id"] > 0
    assert set(body["tokens"]) == {"access", "refresh"}
    text = response.get_data(as_text=True)
    assert "password" not in text and "argon2" not in text
    assert get_me(client, body["tokens"]["access"]).get_json()["id"] == body["user"]["id"]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "ada_l"))
        assert user is not None
        assert user.email == "ada.lovelace@example.com"
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, "analytical-engine-1843")
        assert not (user.is_staff or user.is_superuser)


def test_auth_responses_are_never_cached(client: FlaskClient) -> None:
    response = client.post(f"{AUTH}/users/", json=register_body())
    assert response.headers["Cache-Control"] == "private, no-store"


def test_duplicate_email_in_another_case_is_409_naming_email(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app, email="ada.lovelace@example.com", username="someone")
    response = client.post(f"{AUTH}/users/", json=register_body())
    body = assert_problem(response, 409, "email_taken")
    assert set(body["errors"]) == {"email"}
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "ada_l")) is None


def test_duplicate_username_in_another_case_is_409_naming_username(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app, username="Ada_L")
    body = assert_problem(client.post(f"{AUTH}/users/", json=register_body()), 409)
    assert body["code"] == "username_taken"
    assert set(body["errors"]) == {"username"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password_confirm": "something-else-entirely"}, "password_confirm"),
        ({"email": "not-an-email"}, "email"),
        ({"username": "ab"}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "trailing_newline\n"}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"password": "12345678", "password_confirm": "12345678"}, "password"),
        ({"first_name": "x" * 151}, "first_name"),
    ],
)
def test_invalid_registration_is_400_naming_the_field(
    client: FlaskClient, overrides: dict[str, Any], field: str
) -> None:
    response = client.post(f"{AUTH}/users/", json=register_body(**overrides))
    body = assert_problem(response, 400, "validation_error")
    assert field in body["errors"]


def test_weak_password_lists_every_broken_rule(client: FlaskClient) -> None:
    body = assert_problem(
        client.post(f"{AUTH}/users/", json=register_body(password="1234", password_confirm="1234")),
        400,
    )
    messages = body["errors"]["password"]
    assert "This password is too short. It must contain at least 8 characters." in messages
    assert "This password is entirely numeric." in messages
    assert "This password is too common." in messages


@pytest.mark.parametrize("password", ["aaaaaaaa", " " * 8, "abcdefgh", "letmein!", "Summer2024!"])
def test_easily_guessed_password_is_refused_and_nothing_created(
    app: Flask, client: FlaskClient, password: str
) -> None:
    response = client.post(
        f"{AUTH}/users/", json=register_body(password=password, password_confirm=password)
    )
    body = assert_problem(response, 400)
    assert any("too easy to guess" in message for message in body["errors"]["password"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_registration_cannot_set_staff_or_superuser(app: Flask, client: FlaskClient) -> None:
    response = client.post(f"{AUTH}/users/", json=register_body(is_staff=True, is_superuser=True))
    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {"is_staff", "is_superuser"}
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "ada_l")) is None


# Login


def test_login_returns_tokens_and_records_last_login(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, email="bob@example.com")
    assert user.last_login is None
    response = login(client, "  BOB@example.com ")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["message"] == "Login successful."
    assert body["user"]["id"] == user.id
    assert body["user"]["last_login"] is not None
    assert get_me(client, body["tokens"]["access"]).status_code == 200
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None and stored.last_login is not None


def test_wrong_password_and_unknown_email_get_the_same_401(app: Flask, client: FlaskClient) -> None:
    make_user(app, email="bob@example.com")
    wrong = assert_problem(login(client, "bob@example.com", "not-the-password"), 401)
    unknown = assert_problem(login(client, "nobody@example.com"), 401)
    assert wrong == unknown
    assert wrong["code"] == "invalid_credentials"
    with app.app_context():
        stored = db.session.scalar(select(User).where(User.email == "bob@example.com"))
        assert stored is not None and stored.last_login is None


def test_inactive_user_cannot_log_in(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, email="gone@example.com")
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        stored.is_active = False
        db.session.commit()
    assert_problem(login(client, "gone@example.com"), 401, "invalid_credentials")


def test_account_without_password_cannot_log_in(app: Flask, client: FlaskClient) -> None:
    make_user(app, email="imported@example.com", password=None)
    assert_problem(login(client, "imported@example.com", ""), 400, "validation_error")
    assert_problem(login(client, "imported@example.com", "anything"), 401)


def test_login_without_password_field_is_400(client: FlaskClient) -> None:
    body = assert_problem(client.post(f"{AUTH}/login/", json={"email": "a@b.co"}), 400)
    assert set(body["errors"]) == {"password"}


# Refresh (rotation)


def test_refresh_rotates_and_the_old_refresh_token_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app)
    first = tokens_for(app, user)
    response = client.post(f"{AUTH}/token/refresh/", json={"refresh": first["refresh"]})
    assert response.status_code == 200, response.get_json()
    second = response.get_json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    assert get_me(client, second["access"]).status_code == 200
    third = client.post(f"{AUTH}/token/refresh/", json={"refresh": second["refresh"]})
    assert third.status_code == 200
    with app.app_context():
        reasons = db.session.scalars(select(TokenBlocklist.reason)).all()
        assert reasons == ["rotation", "rotation"]


def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_user(app)
    stolen = tokens_for(app, user)
    # The thief refreshes first and keeps the new pair...
    thief = client.post(f"{AUTH}/token/refresh/", json={"refresh": stolen["refresh"]}).get_json()
    # ...then the owner presents the token they hold: a reuse.
    caplog.set_level(logging.WARNING, logger="app.services.tokens")
    replay = client.post(f"{AUTH}/token/refresh/", json={"refresh": stolen["refresh"]})
    body = assert_problem(replay, 401, "token_revoked")
    assert "Log in again" in body["detail"]
    assert_problem(
        client.post(f"{AUTH}/token/refresh/", json={"refresh": thief["refresh"]}),
        401,
        "token_revoked",
    )
    assert_problem(get_me(client, thief["access"]), 401, "token_revoked")
    assert_problem(get_me(client, stolen["access"]), 401, "token_revoked")
    assert "reuse of rotated refresh token" in caplog.text
    with app.app_context():
        rows = db.session.scalars(select(TokenBlocklist).order_by(TokenBlocklist.id)).all()
        assert [(row.token_type, row.reason) for row in rows] == [
            ("refresh", "rotation"),
            ("family", "refresh_reuse"),
        ]
    # Logging in again starts a new family that works.
    fresh = login(client, user.email).get_json()["tokens"]
    assert get_me(client, fresh["access"]).status_code == 200
    assert (
        client.post(f"{AUTH}/token/refresh/", json={"refresh": fresh["refresh"]}).status_code == 200
    )


def test_a_family_reuse_leaves_the_users_other_sessions_alone(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app)
    phone = tokens_for(app, user)
    laptop = tokens_for(app, user)
    client.post(f"{AUTH}/token/refresh/", json={"refresh": phone["refresh"]})
    client.post(f"{AUTH}/token/refresh/", json={"refresh": phone["refresh"]})
    assert get_me(client, laptop["access"]).status_code == 200
    assert (
        client.post(f"{AUTH}/token/refresh/", json={"refresh": laptop["refresh"]}).status_code
        == 200
    )


def test_access_token_cannot_be_used_to_refresh(app: Flask, client: FlaskClient) -> None:
    access = tokens_for(app, make_user(app))["access"]
    response = client.post(f"{AUTH}/token/refresh/", json={"refresh": access})
    assert_problem(response, 401, "wrong_token_type")


def test_refresh_token_cannot_be_used_as_access_token(app: Flask, client: FlaskClient) -> None:
    refresh = tokens_for(app, make_user(app))["refresh"]
    response = get_me(client, refresh)
    assert_problem(response, 401, "wrong_token_type")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_garbage_refresh_token_is_401(client: FlaskClient) -> None:
    assert_problem(
        client.post(f"{AUTH}/token/refresh/", json={"refresh": "not.a.jwt"}), 401, "token_invalid"
    )


def test_refresh_without_token_is_400(client: FlaskClient) -> None:
    body = assert_problem(client.post(f"{AUTH}/token/refresh/", json={}), 400)
    assert set(body["errors"]) == {"refresh"}


# Logout


def test_logout_revokes_the_refresh_and_the_access_token(app: Flask, client: FlaskClient) -> None:
    tokens = tokens_for(app, make_user(app))
    response = client.post(
        f"{AUTH}/token/blacklist/",
        json={"refresh": tokens["refresh"]},
        headers=bearer(tokens["access"]),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"message": "Logged out."}
    assert_problem(get_me(client, tokens["access"]), 401, "token_revoked")
    refresh = client.post(f"{AUTH}/token/refresh/", json={"refresh": tokens["refresh"]})
    assert_problem(refresh, 401, "token_revoked")
    with app.app_context():
        rows = db.session.scalars(select(TokenBlocklist)).all()
        assert sorted(row.token_type for row in rows) == ["access", "refresh"]
        assert {row.reason for row in rows} == {"logout"}


def test_logout_with_only_the_refresh_token_revokes_it(app: Flask, client: FlaskClient) -> None:
    tokens = tokens_for(app, make_user(app))
    response = client.post(f"{AUTH}/token/blacklist/", json={"refresh": tokens["refresh"]})
    assert response.status_code == 200
    assert_problem(client.post(f"{AUTH}/token/refresh/", json={"refresh": tokens["refresh"]}), 401)
    assert get_me(client, tokens["access"]).status_code == 200


def test_logging_out_twice_is_401(app: Flask, client: FlaskClient) -> None:
    tokens = tokens_for(app, make_user(app))
    client.post(f"{AUTH}/token/blacklist/", json={"refresh": tokens["refresh"]})
    again = client.post(f"{AUTH}/token/blacklist/", json={"refresh": tokens["refresh"]})
    assert_problem(again, 401, "token_revoked")


def test_logout_with_someone_elses_refresh_token_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    mine = tokens_for(app, make_user(app))
    theirs = tokens_for(app, make_user(app))
    response = client.post(
        f"{AUTH}/token/blacklist/",
        json={"refresh": theirs["refresh"]},
        headers=bearer(mine["access"]),
    )
    assert_problem(response, 400, "token_mismatch")
    assert get_me(client, mine["access"]).status_code == 200
    rotated = client.post(f"{AUTH}/token/refresh/", json={"refresh": theirs["refresh"]})
    assert rotated.status_code == 200


# Verify


def test_verify_accepts_valid_access_and_refresh_tokens(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    tokens = tokens_for(app, user)
    for kind in ("access", "refresh"):
        response = client.post(f"{AUTH}/token/verify/", json={"token": tokens[kind]})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["valid"] is True
        assert body["token_type"] == kind
        assert body["user_id"] == user.id
        assert body["expires_at"]


def test_verify_refuses_revoked_and_invalid_tokens(app: Flask, client: FlaskClient) -> None:
    tokens = tokens_for(app, make_user(app))
    client.post(f"{AUTH}/token/blacklist/", json={"refresh": tokens["refresh"]})
    revoked = client.post(f"{AUTH}/token/verify/", json={"token": tokens["refresh"]})
    assert_problem(revoked, 401, "token_revoked")
    garbage = client.post(f"{AUTH}/token/verify/", json={"token": "abc"})
    assert_problem(garbage, 401, "token_invalid")


# Token failures on protected routes


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, Any]:
    segment = _segments(token)[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_missing_token_is_401_problem(client: FlaskClient) -> None:
    response = client.get(f"{AUTH}/users/me/")
    assert_problem(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_tampered_signature_is_401(app: Flask, client: FlaskClient) -> None:
    access = tokens_for(app, make_user(app))["access"]
    header, payload, signature = _segments(access)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert_problem(get_me(client, f"{header}.{payload}.{flipped}"), 401, "token_invalid")


def test_tampered_payload_is_401(app: Flask, client: FlaskClient) -> None:
    victim = make_user(app)
    attacker_access = tokens_for(app, make_user(app))["access"]
    header, _, signature = _segments(attacker_access)
    claims = _payload(attacker_access) | {"sub": str(victim.id)}
    forged = f"{header}.{_b64(claims)}.{signature}"
    assert_problem(get_me(client, forged), 401, "token_invalid")


def test_alg_none_token_is_401(app: Flask, client: FlaskClient) -> None:
    access = tokens_for(app, make_user(app))["access"]
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_segments(access)[1]}."
    assert_problem(get_me(client, unsigned), 401, "token_invalid")
    verify = client.post(f"{AUTH}/token/verify/", json={"token": unsigned})
    assert_problem(verify, 401, "token_invalid")


def test_expired_token_is_401(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    with app.app_context(), app.test_request_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        claims = _payload(tokens_for(app, user)["access"])
        expired = create_access_token(
            identity=str(user.id),
            expires_delta=timedelta(seconds=-60),
            additional_claims={"ver": claims["ver"], "acct": claims["acct"]},
        )
    assert_problem(get_me(client, expired), 401, "token_expired")
    verify = client.post(f"{AUTH}/token/verify/", json={"token": expired})
    assert_problem(verify, 401, "token_expired")


def test_token_of_an_inactive_user_is_401(app: Flask, client: FlaskClient) -> None:
    user = make_user(app)
    access = tokens_for(app, user)["access"]
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        stored.is_active = False
        db.session.commit()
    response = get_me(client, access)
    # The revocation check runs first and finds no active user: the token counts as revoked.
    assert_problem(response, 401, "token_revoked")
    assert response.headers["WWW-Authenticate"] == "Bearer"


# Password change


def change_password(client: FlaskClient, access: str, **overrides: str) -> Any:
    body = {
        "old_password": DEFAULT_PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD,
    }
    body.update(overrides)
    return client.post(f"{AUTH}/password/change/", json=body, headers=bearer(access))


def test_password_change_revokes_every_earlier_token_and_returns_a_new_pair(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app, email="carol@example.com")
    session_one = tokens_for(app, user)
    session_two = tokens_for(app, user)
    response = change_password(client, session_one["access"])
    assert response.status_code == 200, response.get_json()
    fresh = response.get_json()["tokens"]
    for old in (session_one, session_two):
        assert_problem(get_me(client, old["access"]), 401, "token_revoked")
        assert_problem(
            client.post(f"{AUTH}/token/refresh/", json={"refresh": old["refresh"]}),
            401,
            "token_revoked",
        )
    assert get_me(client, fresh["access"]).status_code == 200
    assert (
        client.post(f"{AUTH}/token/refresh/", json={"refresh": fresh["refresh"]}).status_code == 200
    )
    assert_problem(login(client, "carol@example.com"), 401)
    assert login(client, "carol@example.com", NEW_PASSWORD).status_code == 200


def test_password_change_with_wrong_old_password_is_400_and_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app, email="dan@example.com")
    access = tokens_for(app, user)["access"]
    response = change_password(client, access, old_password="not-my-password")
    body = assert_problem(response, 400, "wrong_password")
    assert set(body["errors"]) == {"old_password"}
    assert get_me(client, access).status_code == 200
    assert login(client, "dan@example.com").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"new_password_confirm": "not-the-same-one-1"}, "new_password_confirm"),
        ({"new_password": "password1", "new_password_confirm": "password1"}, "new_password"),
        (
            {"new_password": DEFAULT_PASSWORD, "new_password_confirm": DEFAULT_PASSWORD},
            "new_password",
        ),
    ],
)
def test_password_change_to_an_unacceptable_password_is_400(
    app: Flask, client: FlaskClient, overrides: dict[str, str], field: str
) -> None:
    access = tokens_for(app, make_user(app))["access"]
    body = assert_problem(change_password(client, access, **overrides), 400)
    assert field in body["errors"]
    assert get_me(client, access).status_code == 200


def test_password_change_needs_a_token(client: FlaskClient) -> None:
    assert_problem(
        client.post(f"{AUTH}/password/change/", json={"old_password": "x"}),
        401,
        "not_authenticated",
    )


# Throttling


def test_login_is_throttled_per_address_with_429_and_retry_after(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, email="eve@example.com")
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_ADDRESS", "2/minute")
    statuses = [login(client, f"guess{n}@example.com").status_code for n in range(2)]
    assert statuses == [401, 401]
    response = login(client, "eve@example.com")
    body = assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert "2 per 1 minute" in body["detail"]


def login_from(client: FlaskClient, address: str, email: str, password: str) -> Any:
    return client.post(
        f"{AUTH}/login/",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failures_on_one_account_slow_that_address_but_not_the_owner_elsewhere(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, email="frank@example.com")
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "2/minute")
    guesses = [
        login_from(client, "10.0.0.1", "frank@example.com", f"wrong-guess-{n}").status_code
        for n in range(2)
    ]
    assert guesses == [401, 401]
    assert_problem(
        login_from(client, "10.0.0.1", "FRANK@example.com", DEFAULT_PASSWORD), 429, "rate_limited"
    )
    owner = login_from(client, "10.0.0.99", "frank@example.com", DEFAULT_PASSWORD)
    assert owner.status_code == 200, owner.get_json()


def test_one_account_has_a_ceiling_across_addresses(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, email="frank@example.com")
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_ACCOUNT", "2/minute")
    for n in range(2):
        response = login_from(client, f"10.0.0.{n + 1}", "frank@example.com", "wrong-guess")
        assert response.status_code == 401
    blocked = login_from(client, "10.0.0.99", "FRANK@example.com", DEFAULT_PASSWORD)
    assert_problem(blocked, 429, "rate_limited")
    other = login_from(client, "10.0.0.99", "someone-else@example.com", "x")
    assert other.status_code == 401


def test_anonymous_browsing_never_locks_anyone_out_of_login(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, email="grace@example.com")
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", "2/minute")
    for _ in range(2):
        client.post(f"{AUTH}/token/verify/", json={"token": "x"})
    assert_problem(client.post(f"{AUTH}/token/verify/", json={"token": "x"}), 429)
    assert login(client, "grace@example.com").status_code == 200


def test_registration_is_throttled_per_address(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RATELIMIT_REGISTER", "1/minute")
    first = client.post(f"{AUTH}/users/", json=register_body())
    assert first.status_code == 201
    second = client.post(
        f"{AUTH}/users/", json=register_body(email="other@example.com", username="other")
    )
    assert_problem(second, 429, "rate_limited")
    assert "Retry-After" in second.headers
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "other")) is None


def test_spoofed_forwarded_for_does_not_escape_the_login_limit(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, app: Flask
) -> None:
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_ADDRESS", "1/minute")
    credentials = {"email": "mallory@example.com", "password": "guess-number-one"}
    first = client.post(f"{AUTH}/login/", json=credentials, headers={"X-Forwarded-For": "1.1.1.1"})
    assert first.status_code == 401
    credentials["email"] = "other-target@example.com"
    second = client.post(f"{AUTH}/login/", json=credentials, headers={"X-Forwarded-For": "2.2.2.2"})
    assert_problem(second, 429, "rate_limited")


# Concurrency


@pytest.mark.committing
@pytest.mark.usefixtures("postgres_only")
def test_one_refresh_token_presented_twice_at_once_is_rotated_only_once(app: Flask) -> None:
    tokens = tokens_for(app, make_user(app))
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    codes: list[str] = []

    def refresh() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"{AUTH}/token/refresh/", json={"refresh": tokens["refresh"]})
        statuses.append(response.status_code)
        if response.status_code != 200:
            codes.append(response.get_json()["code"])

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401, 401, 401]
    assert codes == ["token_revoked"] * 3
    with app.app_context():
        types = db.session.scalars(select(TokenBlocklist.token_type)).all()
        # One rotation; the other three were reuses, which revoked the family.
        assert sorted(types) == ["family", "refresh"]


def test_a_reuse_whose_rotation_lands_while_it_is_checked_still_revokes_the_family(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving the threaded test above can hit: a concurrent rotation commits
    after this request began but before its blocklist lookup reads the token."""
    tokens = tokens_for(app, make_user(app))
    real_lookup = token_service.load_token_holder
    concurrent: list[int] = []

    def rotated_meanwhile(payload: dict[str, Any]) -> token_service.TokenHolder:
        if not concurrent:
            concurrent.append(0)
            other = app.test_client().post(
                f"{AUTH}/token/refresh/", json={"refresh": tokens["refresh"]}
            )
            concurrent[0] = other.status_code
        return real_lookup(payload)

    monkeypatch.setattr(token_service, "load_token_holder", rotated_meanwhile)
    response = client.post(f"{AUTH}/token/refresh/", json={"refresh": tokens["refresh"]})
    assert concurrent == [200]
    assert_problem(response, 401, "token_revoked")
    assert "every token issued from it is revoked" in response.get_json()["detail"]
    with app.app_context():
        types = db.session.scalars(select(TokenBlocklist.token_type)).all()
        assert sorted(types) == ["family", "refresh"]


def test_passwords_and_tokens_never_reach_the_logs(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "analytical-engine-1843"
    registered = client.post(f"{AUTH}/users/", json=register_body()).get_json()
    client.post(f"{AUTH}/login/", json={"email": "ada.lovelace@example.com", "password": "wrong-1"})
    logged_in = login(client, "ada.lovelace@example.com", password).get_json()
    refreshed = client.post(
        f"{AUTH}/token/refresh/", json={"refresh": logged_in["tokens"]["refresh"]}
    ).get_json()
    client.post(f"{AUTH}/token/refresh/", json={"refresh": logged_in["tokens"]["refresh"]})
    assert refreshed["access"]
    logs = "\n".join(record.getMessage() for record in caplog.records)
    assert f"user {registered['user']['id']} registered" in logs
    assert f"login refused for user {registered['user']['id']}" in logs
    assert f"user {registered['user']['id']} logged in" in logs
    assert "reuse of rotated refresh token" in logs
    secrets = [password, "wrong-1", *registered["tokens"].values(), *logged_in["tokens"].values()]
    secrets += refreshed.values()
    for secret in secrets:
        assert secret not in logs
