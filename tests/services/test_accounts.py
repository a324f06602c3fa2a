"""Account services used outside HTTP: create_user's checks, login's rehash, token pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.errors import AuthenticationFailed, Conflict, ValidationFailed
from app.extensions import db
from app.models import TokenBlocklist, User
from app.services.accounts import create_user, log_in
from app.services.passwords import _hasher_with
from app.services.tokens import prune_expired_tokens
from tests.factories import DEFAULT_PASSWORD, make_user


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def test_create_user_lower_cases_the_email_and_creates_a_profile(app: Flask) -> None:
    with app.app_context():
        user = create_user(email=" Zoe@Example.ORG ", username="zoe", password=DEFAULT_PASSWORD)
        db.session.flush()
        assert user.email == "zoe@example.org"
        assert user.profile.id is not None
        assert user.profile.favorite_genres == []


def test_create_user_without_password_makes_an_account_that_cannot_log_in(app: Flask) -> None:
    with app.app_context():
        user = create_user(email="ml1@example.com", username="ml1", password=None)
        db.session.commit()
        assert user.password_hash == ""
        with pytest.raises(AuthenticationFailed):
            log_in("ml1@example.com", "")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "no-at-sign"}, "email"),
        ({"username": "a b"}, "username"),
        ({"username": "ab"}, "username"),
        ({"password": "short"}, "password"),
    ],
)
def test_create_user_refuses_invalid_fields(app: Flask, fields: dict[str, str], field: str) -> None:
    values = {"email": "ok@example.com", "username": "okay", "password": DEFAULT_PASSWORD} | fields
    with app.app_context():
        with pytest.raises(ValidationFailed) as raised:
            create_user(**values)
        assert raised.value.errors is not None and set(raised.value.errors) == {field}
        assert user_count() == 0


def test_create_user_names_the_taken_field(app: Flask) -> None:
    make_user(app, email="taken@example.com", username="Taken")
    with app.app_context():
        with pytest.raises(Conflict) as by_email:
            create_user(email="TAKEN@example.com", username="fresh", password=DEFAULT_PASSWORD)
        assert by_email.value.code == "email_taken"
        with pytest.raises(Conflict) as by_username:
            create_user(email="fresh@example.com", username="taken", password=DEFAULT_PASSWORD)
        assert by_username.value.code == "username_taken"


def test_login_upgrades_a_hash_made_with_weaker_parameters(app: Flask) -> None:
    user = make_user(app, email="old@example.com")
    weak = _hasher_with(1, 64, 1).hash(DEFAULT_PASSWORD)
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        stored.password_hash = weak
        db.session.commit()
        signed_in = log_in("old@example.com", DEFAULT_PASSWORD)
        assert signed_in.user.password_hash != weak
        assert "m=1024" in signed_in.user.password_hash


def test_prune_deletes_only_expired_blocklist_rows(app: Flask) -> None:
    user = make_user(app)
    now = datetime.now(UTC)
    with app.app_context():
        for jti, expires_at in (
            ("old", now - timedelta(minutes=1)),
            ("live", now + timedelta(days=1)),
        ):
            db.session.add(
                TokenBlocklist(
                    jti=jti, token_type="refresh", user_id=user.id, expires_at=expires_at
                )
            )
        db.session.commit()
        assert prune_expired_tokens() == 1
        assert db.session.scalars(select(TokenBlocklist.jti)).all() == ["live"]
        assert prune_expired_tokens() == 0
