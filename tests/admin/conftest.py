"""Fixtures of the admin tests: a staff member and a superuser, each with a client signed in
through the real login form, and a member (no staff status) for them to look after."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import User
from tests.factories import make_user
from tests.helpers import sign_in


@pytest.fixture
def staff(app: Flask) -> User:
    return make_user(app, is_staff=True, first_name="Stella", last_name="Staff")


@pytest.fixture
def superuser(app: Flask) -> User:
    return make_user(app, is_staff=True, is_superuser=True)


@pytest.fixture
def member(app: Flask) -> User:
    return make_user(app)


@pytest.fixture
def staff_client(app: Flask, staff: User) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, staff.email).status_code == 302
    return client


@pytest.fixture
def superuser_client(app: Flask, superuser: User) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, superuser.email).status_code == 302
    return client
