"""Who a rate limit counts against, and how much they may do.

Authenticated callers are counted by user id (1000/hour by default), everyone else by
address (100/hour). Login and registration have their own buckets (per address, and per
email for login) that replace those defaults, so browsing anonymously never uses up the
attempts someone needs to sign in. The address is the socket's peer unless
TRUSTED_PROXY_COUNT is set, in which case ProxyFix has already taken it from
X-Forwarded-For. Every limit is a callable read from the config at request time.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError

BEARER_PREFIX = "Bearer "


def caller_identity() -> str | None:
    """The user id of a validly signed access token on this request, if there is one.

    Only the signature, expiry and type are checked (no database query): an id taken from
    a signed token cannot be forged, and a revoked token is refused by the view anyway.
    """
    if "rate_limit_identity" not in g:
        identity = None
        header = request.headers.get("Authorization", "")
        if header.startswith(BEARER_PREFIX):
            try:
                payload = decode_token(header.removeprefix(BEARER_PREFIX).strip())
            except (JWTExtendedException, PyJWTError):
                payload = {}  # an invalid token is rejected by the view; count by address
            if payload.get("type") == "access" and payload.get("sub"):
                identity = str(payload["sub"])
        g.rate_limit_identity = identity
    identity = g.rate_limit_identity
    return None if identity is None else str(identity)


def client_address() -> str:
    return request.remote_addr or "unknown"


def rate_limit_key() -> str:
    identity = caller_identity()
    return f"user:{identity}" if identity else f"addr:{client_address()}"


def default_rate_limit() -> str:
    """1000/hour for a signed-in user, 100/hour for anyone else (from config)."""
    config = current_app.config
    return config["RATELIMIT_USER"] if caller_identity() else config["RATELIMIT_ANONYMOUS"]


def address_key() -> str:
    """The client's address, whoever they claim to be."""
    return f"addr:{client_address()}"


def login_email_key() -> str:
    """The email a login attempt is for, so guessing one account's password from many
    addresses is throttled too. Requests without a usable email count by address (in a
    bucket of their own, so they are not counted twice against the address limit)."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if isinstance(email, str) and email.strip():
        return f"login-email:{email.strip().lower()}"
    return f"login-no-email:{client_address()}"


def login_rate_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


def register_rate_limit() -> str:
    return str(current_app.config["RATELIMIT_REGISTER"])


# Login and registration count in buckets of their own (see the auth blueprint), outside
# the API-wide budget, so that browsing never uses up the attempts needed to sign in.
OWN_BUCKET_ENDPOINTS = frozenset({"auth.Login", "auth.Registration"})


def has_own_bucket() -> bool:
    return request.endpoint in OWN_BUCKET_ENDPOINTS
