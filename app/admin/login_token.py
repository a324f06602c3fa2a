"""CSRF protection for the admin's login form without a server-side session.

A session is created only when a staff member signs in: an anonymous visitor who fetches
the login page gets a random nonce in a short-lived, HttpOnly, SameSite=Strict cookie and
the same nonce, signed with the app's secret and timed, in the form (a signed
double-submit token). A login post is accepted only when both are present, the signature
and age hold, and they name the same nonce. Nothing is stored on the server, so fetching
the page any number of times costs the session store nothing.
"""

from __future__ import annotations

import hmac
import re
import secrets

from flask import current_app, request
from flask_wtf.csrf import CSRFError
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response

NONCE_COOKIE = "admin_login_nonce"
TOKEN_FIELD = "csrf_token"
# Long enough to type a password, short enough that a leaked page is soon worthless.
TOKEN_MAX_AGE_SECONDS = 3600
_SALT = "admin-login-form"
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def new_login_token(current_nonce: str | None = None) -> tuple[str, str]:
    """A (nonce, signed token) pair for one rendering of the login form. The browser's
    nonce is kept when it has a sane one, so a page re-shown after a failed attempt and an
    earlier tab both stay usable; otherwise a new one is drawn."""
    nonce = current_nonce if current_nonce and NONCE_PATTERN.fullmatch(current_nonce) else None
    nonce = nonce or secrets.token_urlsafe(24)
    return nonce, _serializer().dumps(nonce)


def set_nonce_cookie(response: Response, nonce: str) -> None:
    """The nonce goes back with the login post only, from this site only."""
    response.set_cookie(
        NONCE_COOKIE,
        nonce,
        max_age=TOKEN_MAX_AGE_SECONDS,
        path=request.path,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Strict",
    )


def check_login_token() -> None:
    """CSRFError unless the posted token is ours, recent, and matches the nonce cookie."""
    token = request.form.get(TOKEN_FIELD, "")
    cookie = request.cookies.get(NONCE_COOKIE, "")
    if not token or not cookie:
        raise CSRFError("The form is missing its security token: reload the page.")
    try:
        nonce = _serializer().loads(token, max_age=TOKEN_MAX_AGE_SECONDS)
    except BadData as error:
        raise CSRFError("The form's security token is invalid or expired.") from error
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, cookie):
        raise CSRFError("The form's security token does not match this browser.")
