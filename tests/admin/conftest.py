"""Helpers for the admin tests: sign in through the real login form, read CSRF tokens."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.models import User
from tests.factories import DEFAULT_PASSWORD, make_user

LOGIN = "/admin/login/"
CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form on the page (fails the test when there is none)."""
    match = CSRF_INPUT.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(
    client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD, next_url: str = ""
) -> TestResponse:
    """Fetch the login page, take its CSRF token and post the form, as a browser does."""
    page = client.get(LOGIN)
    assert page.status_code == 200
    target = f"{LOGIN}?next={next_url}" if next_url else LOGIN
    return client.post(
        target,
        data={"email": email, "password": password, "csrf_token": csrf_token_in(page.text)},
    )


def post_form(
    client: FlaskClient, page_url: str, url: str, data: dict[str, object]
) -> TestResponse:
    """Post `data` to `url` with the CSRF token of the form on `page_url`."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={**data, "csrf_token": csrf_token_in(page.text)})


@pytest.fixture
def staff(app: Flask) -> User:
    return make_user(app, is_staff=True, first_name="Stella", last_name="Staff")


@pytest.fixture
def superuser(app: Flask) -> User:
    return make_user(app, is_staff=True, is_superuser=True)


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
