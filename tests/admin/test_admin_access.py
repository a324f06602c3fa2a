"""Who gets into /admin/: the login form, the session cookie, CSRF, throttling, logout."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from flask_session.base import ServerSideSessionInterface
from sqlalchemy import select

from app.admin import login_token
from app.extensions import db
from app.models import User
from config import ProductionConfig, TestingConfig
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_movie, make_user
from tests.helpers import (
    ADMIN_LOGIN,
    assert_form_refused,
    csrf_token_in,
    post_form,
    sign_in,
    stored,
)

ADMIN_PAGES = [
    "/admin/",
    "/admin/users/",
    "/admin/profiles/",
    "/admin/movies/",
    "/admin/genres/",
    "/admin/favorites/",
    "/admin/ratings/",
    "/admin/watchlist/",
    "/admin/history/",
    "/admin/recommendations/",
    "/admin/feedback/",
    "/admin/token-blocklist/",
]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_every_admin_page_redirects_an_anonymous_visitor_to_the_login_page(
    client: FlaskClient, page: str
) -> None:
    response = client.get(page)

    assert response.status_code == 302
    assert response.headers["Location"].startswith(ADMIN_LOGIN)


def test_login_page_is_a_form_with_a_csrf_token(client: FlaskClient) -> None:
    response = client.get(ADMIN_LOGIN)

    assert response.status_code == 200
    assert "text/html" in response.content_type
    assert csrf_token_in(response.text)
    assert 'name="email"' in response.text and 'name="password"' in response.text


def test_staff_member_signs_in_through_the_form_and_sees_the_admin(
    app: Flask, client: FlaskClient
) -> None:
    staff = make_user(app, is_staff=True)

    response = sign_in(client, staff.email)

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    home = client.get("/admin/")
    assert home.status_code == 200
    assert staff.email in home.text
    assert "Sign out" in home.text
    assert stored(app, User, staff.id).last_login is not None


def test_sign_in_returns_to_the_admin_page_first_asked_for(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    redirected = client.get("/admin/movies/?search=alien")
    next_url = redirected.headers["Location"].split("next=", 1)[1]

    response = sign_in(client, staff.email, next_url=next_url)

    assert response.headers["Location"] == "/admin/movies/?search=alien"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/admin/", "/api/v1/movies/movies/"]
)
def test_sign_in_never_redirects_outside_the_admin(
    app: Flask, client: FlaskClient, next_url: str
) -> None:
    staff = make_user(app, is_staff=True)

    response = sign_in(client, staff.email, next_url=next_url)

    assert response.headers["Location"] == "/admin/"


def test_session_cookie_is_http_only_same_site_lax_and_scoped_to_the_admin(
    app: Flask, client: FlaskClient
) -> None:
    staff = make_user(app, is_staff=True)

    response = sign_in(client, staff.email)

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("admin_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie  # tests run over plain HTTP, as development does


def test_the_session_lives_on_the_server_and_the_cookie_holds_only_its_id(
    app: Flask, client: FlaskClient
) -> None:
    staff = make_user(app, is_staff=True)

    sign_in(client, staff.email)

    cookie = client.get_cookie("admin_session", path="/admin")
    assert cookie is not None
    assert isinstance(app.session_interface, ServerSideSessionInterface)
    # A random opaque id (Flask's own cookie sessions are signed base64 data with dots).
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", cookie.value)


def test_only_the_admin_opens_the_session_even_when_the_cookie_is_sent_elsewhere(
    app: Flask, client: FlaskClient
) -> None:
    """The API has no session: its requests never ask the session store for one."""
    sign_in(client, make_user(app, is_staff=True).email)
    cookie = client.get_cookie("admin_session", path="/admin")
    assert cookie is not None
    interface = app.session_interface
    for path, is_admin in (("/admin/", True), ("/api/v1/movies/movies/", False)):
        with app.test_request_context(path, headers={"Cookie": f"admin_session={cookie.value}"}):
            session = interface.open_session(app, request)
            assert session is not None
            assert interface.is_null_session(session) is not is_admin, path
            assert bool(dict(session)) is is_admin, path  # the signed-in staff member's


def test_production_marks_the_session_cookie_secure_and_testing_keeps_csrf_on() -> None:
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    assert getattr(TestingConfig, "WTF_CSRF_ENABLED", True) is True


def test_a_session_id_planted_before_sign_in_is_not_kept(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    client.set_cookie("admin_session", "planted-by-an-attacker-0123456789abcdef", path="/admin")

    sign_in(client, staff.email)

    after = client.get_cookie("admin_session", path="/admin")
    assert after is not None and after.value != "planted-by-an-attacker-0123456789abcdef"
    assert client.get("/admin/").status_code == 200


def stored_sessions(app: Flask) -> int:
    """How many admin sessions the server-side store holds (Redis or files)."""
    interface: Any = app.session_interface
    if hasattr(interface, "client"):
        return len(list(interface.client.scan_iter(match=f"{interface.key_prefix}*")))
    return len([path for path in Path(interface.cache._path).iterdir() if path.is_file()])


def test_anonymous_visits_of_the_login_page_create_no_session(
    app: Flask, client: FlaskClient
) -> None:
    before = stored_sessions(app)

    for _ in range(20):
        page = client.get(ADMIN_LOGIN)
        assert page.status_code == 200
        assert csrf_token_in(page.text)

    assert client.get_cookie("admin_session", path="/admin") is None
    assert stored_sessions(app) == before
    nonce = page.headers["Set-Cookie"]
    assert nonce.startswith("admin_login_nonce=")
    assert "HttpOnly" in nonce and "SameSite=Strict" in nonce and "Path=/admin/login/" in nonce


def test_a_failed_sign_in_creates_no_session(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    before = stored_sessions(app)

    response = sign_in(client, staff.email, "not-the-password")

    assert response.status_code == 401
    assert client.get_cookie("admin_session", path="/admin") is None
    assert stored_sessions(app) == before


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    app: Flask, client: FlaskClient
) -> None:
    staff = make_user(app, is_staff=True)

    wrong_password = sign_in(client, staff.email, "not-the-password-at-all")
    unknown_email = sign_in(client, "nobody@example.com")

    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert "Invalid email or password." in response.text
    assert client.get("/admin/users/").status_code == 302


def test_a_user_who_is_not_staff_is_refused_with_a_clear_message(
    client: FlaskClient, member: User
) -> None:
    response = sign_in(client, member.email)

    assert response.status_code == 403
    assert "not a staff account" in response.text
    assert client.get("/admin/").headers["Location"].startswith(ADMIN_LOGIN)


def test_a_deactivated_staff_member_is_refused(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    with app.app_context():
        db.session.get(User, staff.id).is_active = False  # type: ignore[union-attr]
        db.session.commit()

    response = sign_in(client, staff.email)

    assert response.status_code == 403
    assert "deactivated" in response.text


def test_a_staff_member_deactivated_while_signed_in_is_sent_back_to_the_login_page(
    app: Flask, staff_client: FlaskClient, staff: User
) -> None:
    with app.app_context():
        db.session.get(User, staff.id).is_active = False  # type: ignore[union-attr]
        db.session.commit()

    response = staff_client.get("/admin/users/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith(ADMIN_LOGIN)


def test_login_form_without_the_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    client.get(ADMIN_LOGIN)

    response = client.post(ADMIN_LOGIN, data={"email": staff.email, "password": DEFAULT_PASSWORD})

    assert_form_refused(response)
    assert client.get("/admin/").status_code == 302


def test_login_form_with_a_forged_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    client.get(ADMIN_LOGIN)

    response = client.post(
        ADMIN_LOGIN,
        data={"email": staff.email, "password": DEFAULT_PASSWORD, "csrf_token": "forged.token"},
    )

    assert_form_refused(response)


def test_an_edit_posted_without_the_csrf_token_changes_nothing(
    app: Flask, staff_client: FlaskClient
) -> None:
    member = make_user(app, first_name="Original")

    response = staff_client.post(
        f"/admin/users/edit/?id={member.id}",
        data={"email": member.email, "username": member.username, "first_name": "Changed"},
    )

    assert_form_refused(response)
    assert stored(app, User, member.id).first_name == "Original"


def test_an_action_posted_without_the_csrf_token_changes_nothing(
    app: Flask, staff_client: FlaskClient, member: User
) -> None:
    response = staff_client.post(
        "/admin/users/action/", data={"action": "deactivate", "rowid": [str(member.id)]}
    )

    assert_form_refused(response)
    assert stored(app, User, member.id).is_active is True


def test_the_json_api_needs_no_csrf_token(app: Flask, client: FlaskClient, member: User) -> None:
    movie = make_movie(app)
    client.get(ADMIN_LOGIN)  # an admin session in the cookie jar changes nothing for /api

    response = client.post(
        "/api/v1/favorites/favorites/",
        json={"movie": movie.id},
        headers=auth_headers(app, member),
    )

    assert response.status_code == 201, response.text


def test_api_responses_set_no_session_cookie(client: FlaskClient) -> None:
    response = client.get("/health/")

    assert "Set-Cookie" not in response.headers


def test_sign_in_attempts_are_throttled_like_the_api_login(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = make_user(app, is_staff=True)
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "2/minute")

    attempts = [sign_in(client, staff.email, "wrong-password-1") for _ in range(2)]
    throttled = sign_in(client, staff.email)

    assert [response.status_code for response in attempts] == [401, 401]
    assert throttled.status_code == 429
    assert "Too many sign-in attempts" in throttled.text
    assert client.get("/admin/").status_code == 302


def test_sign_in_attempts_on_one_account_are_throttled_across_addresses(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = make_user(app, is_staff=True)
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_ACCOUNT", "2/minute")
    page = client.get(ADMIN_LOGIN)

    def attempt(address: str, password: str) -> int:
        return client.post(
            ADMIN_LOGIN,
            data={
                "email": staff.email.upper(),
                "password": password,
                "csrf_token": csrf_token_in(page.text),
            },
            environ_overrides={"REMOTE_ADDR": address},
        ).status_code

    statuses = [attempt(f"203.0.113.{n}", "wrong-password-1") for n in (1, 2)]
    statuses.append(attempt("203.0.113.3", DEFAULT_PASSWORD))

    assert statuses == [401, 401, 429]


def test_the_admin_and_api_logins_share_one_budget_per_account(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = make_user(app, is_staff=True)
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "2/minute")
    api = client.post(
        "/api/v1/auth/login/", json={"email": staff.email, "password": "wrong-password-1"}
    )
    admin = sign_in(client, staff.email, "wrong-password-2")
    assert (api.status_code, admin.status_code) == (401, 401)
    assert sign_in(client, staff.email).status_code == 429
    again = client.post("/api/v1/auth/login/", json={"email": staff.email, "password": "x"})
    assert again.status_code == 429


def test_browsing_the_admin_is_not_limited_by_the_anonymous_api_quota(
    app: Flask, staff_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RATELIMIT_ANONYMOUS", "3/hour")

    statuses = [staff_client.get("/admin/movies/").status_code for _ in range(5)]

    assert statuses == [200] * 5


def test_sign_out_ends_the_session(staff_client: FlaskClient) -> None:
    home = staff_client.get("/admin/")

    response = staff_client.post("/admin/logout/", data={"csrf_token": csrf_token_in(home.text)})

    assert response.status_code == 302
    assert response.headers["Location"] == ADMIN_LOGIN
    assert staff_client.get("/admin/users/").status_code == 302


def test_sign_out_by_a_plain_link_is_not_possible(staff_client: FlaskClient) -> None:
    assert staff_client.get("/admin/logout/").status_code == 405
    assert staff_client.get("/admin/users/").status_code == 200


def test_a_password_change_ends_the_users_admin_sessions(
    app: Flask, staff_client: FlaskClient, staff: User, superuser_client: FlaskClient
) -> None:
    response = post_form(
        superuser_client,
        f"/admin/users/password/?id={staff.id}",
        f"/admin/users/password/?id={staff.id}",
        {"password": "a-brand-new-passphrase-9", "confirm": "a-brand-new-passphrase-9"},
    )
    assert response.status_code == 302

    assert staff_client.get("/admin/users/").status_code == 302
    with app.app_context():
        count = db.session.scalar(select(User.token_version).where(User.id == staff.id))
    assert count == 1


def test_a_login_token_without_its_nonce_cookie_is_refused(app: Flask, client: FlaskClient) -> None:
    staff = make_user(app, is_staff=True)
    token = csrf_token_in(client.get(ADMIN_LOGIN).text)
    client.delete_cookie("admin_login_nonce", path="/admin/login/")

    response = client.post(
        ADMIN_LOGIN, data={"email": staff.email, "password": DEFAULT_PASSWORD, "csrf_token": token}
    )

    assert_form_refused(response)
    assert client.get("/admin/").status_code == 302


def test_a_login_token_taken_from_another_browser_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    staff = make_user(app, is_staff=True)
    attackers_token = csrf_token_in(app.test_client().get(ADMIN_LOGIN).text)
    client.get(ADMIN_LOGIN)  # the victim's own nonce cookie

    response = client.post(
        ADMIN_LOGIN,
        data={"email": staff.email, "password": DEFAULT_PASSWORD, "csrf_token": attackers_token},
    )

    assert_form_refused(response)
    assert client.get("/admin/").status_code == 302


def test_an_expired_login_token_is_refused(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = make_user(app, is_staff=True)
    token = csrf_token_in(client.get(ADMIN_LOGIN).text)
    monkeypatch.setattr(login_token, "TOKEN_MAX_AGE_SECONDS", -1)

    response = client.post(
        ADMIN_LOGIN, data={"email": staff.email, "password": DEFAULT_PASSWORD, "csrf_token": token}
    )

    assert response.status_code == 400
    assert "expired" in response.text
