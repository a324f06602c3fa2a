"""Each token's signature verified once per process, its expiry at every use.

flask-jwt-extended decodes a bearer token twice per check (unverified, to pick the key, then
verified) and PyJWT validates every character of it each time: about 0.2 ms of every
signed-in request (193 us under `timeit` for a 423-character access token), and the rate
limiter's key needs the same check before the view's. What a
successful check returned is kept by the token's exact text, so no other text can match
it, with the instant it stops being valid, compared again at each use: an expired token
falls through to the full check, which refuses it as before. A token that fails is never
kept. Revocation is not a property of the text and is not cached here: the blocklist and
the user are read on every request (`services.tokens.load_token_holder`).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_jwt_extended import JWTManager

# How many verified tokens each process remembers (about 1 kB each); a worker sees far
# fewer live tokens than this, so the rare overflow just starts again from empty.
VERIFIED_TOKENS_KEPT = 4096
EXTENSION_KEY = "verified_tokens"


class OnceVerifyingJWTManager(JWTManager):
    """flask-jwt-extended's manager, with each token's verification kept (see the module).

    `_decode_jwt_from_config` is the one method every decode of flask-jwt-extended (the
    view decorators and `decode_token`) goes through; the version is pinned and
    `tests/test_verified_tokens.py` checks the behaviour through the public API."""

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        plain_check = csrf_value is None and not allow_expired
        if plain_check:
            known = remembered_payload(encoded_token)
            if known is not None:
                return known
        payload: dict[str, Any] = super()._decode_jwt_from_config(
            encoded_token, csrf_value, allow_expired
        )
        if plain_check:
            remember(encoded_token, payload)
        return payload


def remembered_payload(token: str) -> dict[str, Any] | None:
    """A copy of what verifying `token` returned, while it is still unexpired."""
    known = _verified().get(token)
    if known is None:
        return None
    payload, valid_until = known
    if time.time() >= valid_until:
        return None  # the full check refuses it, with its own error
    return dict(payload)


def remember(token: str, payload: dict[str, Any]) -> None:
    if "exp" not in payload:
        return  # a token that never expires is checked every time (none are issued)
    verified = _verified()
    if len(verified) >= VERIFIED_TOKENS_KEPT:
        verified.clear()
    # PyJWT's rule: expired once now >= exp + leeway.
    verified[token] = (dict(payload), float(payload["exp"]) + decode_leeway_seconds())


def decode_leeway_seconds() -> float:
    leeway = current_app.config.get("JWT_DECODE_LEEWAY", 0)
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)


def _verified() -> dict[str, tuple[dict[str, Any], float]]:
    verified: dict[str, tuple[dict[str, Any], float]] = current_app.extensions.setdefault(
        EXTENSION_KEY, {}
    )
    return verified
