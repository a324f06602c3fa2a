"""How flask-jwt-extended finds a token's user and answers a token it refuses.

The web layer's side of the tokens: the user lookup and revocation check (through
`app.services.tokens`) and one problem+json 401 for every way a token can fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, g
from flask_jwt_extended import JWTManager

from app.errors import problem_response
from app.models import User
from app.services.tokens import CHALLENGE, TokenHolder, load_token_holder


def _unauthorised(detail: str, code: str) -> Response:
    return problem_response(401, detail, code=code, headers=CHALLENGE)


def register_jwt_callbacks(manager: JWTManager) -> None:
    """User lookup, blocklist check and problem+json bodies for every token failure."""

    def token_holder(jwt_data: dict[str, Any]) -> TokenHolder:
        # The revocation check and the user lookup both need the token's user: one query
        # per request answers both (and keeps the user referenced: the session's identity
        # map is weak, so a user nobody holds would be selected a second time).
        holders: dict[str, TokenHolder] = g.setdefault("token_holders", {})
        token_id = str(jwt_data.get("jti", ""))
        if token_id not in holders:
            holders[token_id] = load_token_holder(jwt_data)
        return holders[token_id]

    @manager.user_lookup_loader
    def user_lookup_callback(_jwt_header: dict[str, Any], jwt_data: dict[str, Any]) -> User | None:
        return token_holder(jwt_data).user

    @manager.token_in_blocklist_loader
    def token_revoked_callback(_jwt_header: dict[str, Any], jwt_data: dict[str, Any]) -> bool:
        return token_holder(jwt_data).revokes(jwt_data)

    @manager.unauthorized_loader
    def missing_token_callback(reason: str) -> Response:
        return _unauthorised(
            "Authentication credentials were not provided: send 'Authorization: Bearer <token>'.",
            "not_authenticated",
        )

    @manager.invalid_token_loader
    def invalid_token_callback(reason: str) -> Response:
        if reason == "Only non-refresh tokens are allowed":  # flask-jwt-extended's WrongTokenError
            return _unauthorised("This operation needs an access token.", "wrong_token_type")
        return _unauthorised("The token is invalid.", "token_invalid")

    # The refusals flask-jwt-extended reports with the token's header and payload.
    refusals = (
        (manager.expired_token_loader, "The token has expired.", "token_expired"),
        (manager.revoked_token_loader, "The token has been revoked.", "token_revoked"),
        (
            manager.user_lookup_error_loader,
            "The token's user no longer exists or is inactive.",
            "user_inactive",
        ),
        (manager.token_verification_failed_loader, "The token is invalid.", "token_invalid"),
        (
            manager.needs_fresh_token_loader,
            "A fresh token is required: log in again.",
            "fresh_token_required",
        ),
    )
    for register, detail, code in refusals:
        register(_refusal(detail, code))


def _refusal(detail: str, code: str) -> Callable[[dict[str, Any], dict[str, Any]], Response]:
    """A callback answering a refused token (given its header and payload) with a 401."""

    def refuse(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorised(detail, code)

    return refuse
