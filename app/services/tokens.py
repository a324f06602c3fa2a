"""JWT issuing, revocation through the database blocklist, and the token error responses.

Tokens carry the user id as identity and the user's `token_version` as the "ver" claim:
bumping the version (password change) revokes every token issued before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    decode_token,
)
from sqlalchemy import delete, select

from app.errors import problem_response
from app.extensions import db
from app.models import TokenBlocklist, User, utcnow

VERSION_CLAIM = "ver"


def issue_tokens(user: User) -> dict[str, str]:
    """A fresh access and refresh token pair for `user`."""
    claims = {VERSION_CLAIM: user.token_version}
    return {
        "access": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh": create_refresh_token(identity=str(user.id), additional_claims=claims),
    }


def revoke_token(payload: dict[str, Any], reason: str) -> None:
    """Put a decoded token on the blocklist (idempotent). Does not commit."""
    if db.session.scalar(select(TokenBlocklist.id).where(TokenBlocklist.jti == payload["jti"])):
        return
    db.session.add(
        TokenBlocklist(
            jti=payload["jti"],
            token_type=payload["type"],
            user_id=int(payload["sub"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            reason=reason,
        )
    )


def decode_any_token(encoded: str) -> dict[str, Any]:
    """Decode and verify a token's signature and expiry (not its revocation)."""
    return decode_token(encoded)


def prune_expired_tokens() -> int:
    """Delete blocklist rows whose tokens have expired anyway; returns how many."""
    result = db.session.execute(delete(TokenBlocklist).where(TokenBlocklist.expires_at < utcnow()))
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def load_active_user(identity: str) -> User | None:
    try:
        user_id = int(identity)
    except (TypeError, ValueError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        return None
    return user


def _unauthorised(detail: str, code: str) -> Response:
    return problem_response(401, detail, code=code, headers={"WWW-Authenticate": "Bearer"})


def register_jwt_callbacks(manager: JWTManager) -> None:
    """User lookup, blocklist check and problem+json bodies for every token failure."""

    @manager.user_lookup_loader
    def user_lookup_callback(_jwt_header: dict[str, Any], jwt_data: dict[str, Any]) -> User | None:
        return load_active_user(jwt_data["sub"])

    @manager.token_in_blocklist_loader
    def token_revoked_callback(_jwt_header: dict[str, Any], jwt_data: dict[str, Any]) -> bool:
        """Revoked when blocklisted, or issued before the user's last password change."""
        user = load_active_user(jwt_data.get("sub", ""))
        if user is None or jwt_data.get(VERSION_CLAIM) != user.token_version:
            return True
        return (
            db.session.scalar(
                select(TokenBlocklist.id).where(TokenBlocklist.jti == jwt_data["jti"])
            )
            is not None
        )

    @manager.unauthorized_loader
    def missing_token_callback(reason: str) -> Response:
        return _unauthorised(
            "Authentication credentials were not provided: send 'Authorization: Bearer <token>'.",
            "not_authenticated",
        )

    @manager.invalid_token_loader
    def invalid_token_callback(reason: str) -> Response:
        return _unauthorised("The token is invalid.", "token_invalid")

    @manager.expired_token_loader
    def expired_token_callback(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorised("The token has expired.", "token_expired")

    @manager.revoked_token_loader
    def revoked_token_callback(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorised("The token has been revoked.", "token_revoked")

    @manager.user_lookup_error_loader
    def user_lookup_error_callback(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorised("The token's user no longer exists or is inactive.", "user_inactive")

    @manager.token_verification_failed_loader
    def verification_failed_callback(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorised("The token is invalid.", "token_invalid")

    @manager.needs_fresh_token_loader
    def needs_fresh_token_callback(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorised("A fresh token is required: log in again.", "fresh_token_required")
