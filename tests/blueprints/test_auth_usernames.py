"""Usernames: NFKC-normalised and unique by their confusable skeleton (Unicode TR39)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import User
from app.models.users import username_skeleton
from tests.factories import auth_headers, make_user
from tests.helpers import assert_problem

AUTH = "/api/v1/auth"


def register(client: FlaskClient, username: str, email: str = "new@example.com") -> Any:
    password = "violet-harbour-cinema-71"
    return client.post(
        f"{AUTH}/users/",
        json={
            "email": email,
            "username": username,
            "password": password,
            "password_confirm": password,
        },
    )


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0430lice",  # Cyrillic small a
        "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth
        "ALICE",
        "\u0391lice",  # Greek capital alpha
        "a\u217cice",  # small roman numeral fifty
    ],
)
def test_a_look_alike_of_a_taken_username_is_409_and_creates_nothing(
    app: Flask, client: FlaskClient, look_alike: str
) -> None:
    make_user(app, username="alice")
    body = assert_problem(register(client, look_alike), 409, "username_taken")
    assert set(body["errors"]) == {"username"}
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "new@example.com")) is None


def test_usernames_are_stored_nfkc_normalised(app: Flask, client: FlaskClient) -> None:
    response = register(client, "\uff4d\uff41\uff52\uff59")  # fullwidth "mary"
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["user"]["username"] == "mary"


def test_distinct_usernames_are_still_accepted(app: Flask, client: FlaskClient) -> None:
    make_user(app, username="alice")
    assert register(client, "alicia").status_code == 201


def test_renaming_yourself_to_a_look_alike_is_409(app: Flask, client: FlaskClient) -> None:
    make_user(app, username="alice")
    user = make_user(app, username="bob")
    response = client.patch(
        f"{AUTH}/users/me/", json={"username": "\u0430lice"}, headers=auth_headers(app, user)
    )
    assert_problem(response, 409, "username_taken")
    with app.app_context():
        assert db.session.get(User, user.id).username == "bob"  # type: ignore[union-attr]


def test_renaming_yourself_keeps_the_skeleton_in_step(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, username="bob")
    response = client.patch(
        f"{AUTH}/users/me/", json={"username": "Robert"}, headers=auth_headers(app, user)
    )
    assert response.status_code == 200, response.get_json()
    assert register(client, "r\u043ebert").status_code == 409  # Cyrillic o


def test_the_database_refuses_two_users_with_one_skeleton(app: Flask) -> None:
    make_user(app, username="alice")
    with app.app_context():
        db.session.add(User(email="x@example.com", username="\u0430lice"))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_skeleton_maps_look_alikes_together() -> None:
    assert username_skeleton("\u0430lice") == username_skeleton("alice")
    assert username_skeleton("Alice") == username_skeleton("alice")
    assert username_skeleton("alice") != username_skeleton("alicia")
