"""Who may use the staff admin: login through a server-side session, throttling, logout,
and the one account change only the admin makes (setting a user's password).

The session holds the staff user's id and their `token_version`: bumping the version (a
password change, here or through the API) ends their admin sessions as it revokes their
tokens.
"""

from __future__ import annotations

from flask import current_app, g, session

from app.errors import AuthenticationFailed, PermissionDenied
from app.extensions import db, limiter
from app.models import User, utcnow
from app.ratelimit import hit_login_buckets
from app.services.accounts import find_user_by_email, set_password
from app.services.passwords import spend_verification_time, verify_password

SESSION_USER_ID = "staff_user_id"
SESSION_TOKEN_VERSION = "staff_token_version"

WRONG_CREDENTIALS = "Invalid email or password."
NOT_STAFF = "This account is not a staff account: only staff members can sign in to the admin."
DEACTIVATED = "This account is deactivated."


def authenticate_staff(email: str, password: str) -> User:
    """The active staff user with these credentials.

    AuthenticationFailed for an unknown email or a wrong password (in about the same
    time), PermissionDenied for a right password on an inactive or non-staff account.
    """
    user = find_user_by_email(email)
    if user is None:
        spend_verification_time(password)
        raise AuthenticationFailed(WRONG_CREDENTIALS, code="invalid_credentials")
    if not verify_password(user.password_hash, password):
        raise AuthenticationFailed(WRONG_CREDENTIALS, code="invalid_credentials")
    if not user.is_active:
        raise PermissionDenied(DEACTIVATED, code="account_inactive")
    if not user.is_staff:
        raise PermissionDenied(NOT_STAFF, code="staff_only")
    return user


def login_attempt_allowed(email: str) -> bool:
    """Count one login attempt in the API login's buckets (one budget for both forms)."""
    return hit_login_buckets(limiter, email)


def start_staff_session(user: User) -> None:
    """Sign `user` in: a new session id (no fixation), their id and token version."""
    # A new id before anything else (the old one, seen before sign-in, is deleted).
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
    session.clear()
    session.permanent = True
    session[SESSION_USER_ID] = user.id
    session[SESSION_TOKEN_VERSION] = user.token_version
    user.last_login = utcnow()
    db.session.commit()
    g.staff_user = user


def end_staff_session() -> None:
    session.clear()
    g.staff_user = None


def current_staff_user() -> User | None:
    """The signed-in active staff user of this request, or None."""
    if "staff_user" not in g:
        g.staff_user = _load_staff_user()
    return g.staff_user


def _load_staff_user() -> User | None:
    user_id = session.get(SESSION_USER_ID)
    if not isinstance(user_id, int):
        return None
    user = db.session.get(User, user_id)
    if (
        user is None
        or user.deleted_at is not None
        or not user.is_active
        or not user.is_staff
        or session.get(SESSION_TOKEN_VERSION) != user.token_version
    ):
        return None
    return user


def set_user_password(user: User, new_password: str) -> None:
    """Give `user` a new password under the password policy and revoke their tokens and
    sessions (the token version goes up). Commits."""
    set_password(user.id, new_password)
    if user.id == session.get(SESSION_USER_ID):
        # The admin changed their own password: keep this session, end the others.
        session[SESSION_TOKEN_VERSION] = user.token_version
