"""Fixtures of the API tests: a member and the Authorization header that signs them in."""

from __future__ import annotations

import pytest
from flask import Flask

from app.models import User
from tests.factories import auth_headers, make_user


@pytest.fixture
def user(app: Flask) -> User:
    return make_user(app)


@pytest.fixture
def headers(app: Flask, user: User) -> dict[str, str]:
    return auth_headers(app, user)
