"""A token's signature is verified once per process; expiry and revocation at every use."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import decode_token

from app import verified_tokens
from app.ratelimit import token_identity
from tests.factories import make_user, tokens_for
from tests.helpers import assert_problem, bearer

ME = "/api/v1/auth/users/me/"


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature PyJWT verifies, in order."""
    checked: list[str] = []
    verify = jwt.PyJWS._verify_signature

    def counting(self: jwt.PyJWS, signing_input: bytes, *args: Any, **kwargs: Any) -> None:
        checked.append(signing_input.decode())
        verify(self, signing_input, *args, **kwargs)

    monkeypatch.setattr(jwt.PyJWS, "_verify_signature", counting)
    return checked


def short_lived_tokens(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A new user's tokens, the access token valid for 2 to 3 seconds (whole seconds)."""
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "JWT_ACCESS_TOKEN_EXPIRES", timedelta(seconds=3))
        return tokens_for(app, make_user(app))


def wait_until_expired(app: Flask, token: str) -> None:
    with app.app_context():
        expires_at = decode_token(token)["exp"]
    time.sleep(max(0.0, expires_at - time.time()) + 0.05)


def test_a_token_is_verified_once_and_its_revocation_checked_every_time(
    app: Flask, client: FlaskClient, signature_checks: list[str]
) -> None:
    tokens = tokens_for(app, make_user(app))
    statuses = [client.get(ME, headers=bearer(tokens["access"])).status_code for _ in range(3)]
    assert statuses == [200] * 3
    assert len(signature_checks) == 1  # the rate limiter's key and the view share it
    logout = client.post(
        "/api/v1/auth/token/blacklist/",
        json={"refresh": tokens["refresh"]},
        headers=bearer(tokens["access"]),
    )
    assert logout.status_code == 200
    assert_problem(client.get(ME, headers=bearer(tokens["access"])), 401, "token_revoked")


def test_a_verified_token_is_refused_once_it_expires(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = short_lived_tokens(app, monkeypatch)["access"]
    assert client.get(ME, headers=bearer(access)).status_code == 200
    with app.test_request_context():
        assert token_identity(access) is not None
    wait_until_expired(app, access)
    assert_problem(client.get(ME, headers=bearer(access)), 401, "token_expired")
    with app.test_request_context():
        assert token_identity(access) is None  # the rate limit counts it by address again


def test_a_tampered_token_is_refused_after_the_genuine_one_was_verified(
    app: Flask, client: FlaskClient
) -> None:
    access = tokens_for(app, make_user(app))["access"]
    assert client.get(ME, headers=bearer(access)).status_code == 200
    header, payload, signature = access.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert_problem(client.get(ME, headers=bearer(tampered)), 401, "token_invalid")
    assert client.get(ME, headers=bearer(access)).status_code == 200


def test_a_remembered_payload_is_a_copy(app: Flask) -> None:
    access = tokens_for(app, make_user(app))["access"]
    with app.test_request_context():
        first = decode_token(access)
        first["sub"] = "someone else"
        assert decode_token(access)["sub"] != "someone else"


def test_the_memory_is_bounded(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verified_tokens, "VERIFIED_TOKENS_KEPT", 2)
    tokens = [tokens_for(app, make_user(app))["access"] for _ in range(3)]
    with app.test_request_context():
        for token in tokens:
            decode_token(token)
        assert len(app.extensions[verified_tokens.EXTENSION_KEY]) <= 2
        assert [decode_token(token)["type"] for token in tokens] == ["access"] * 3
