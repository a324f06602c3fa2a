"""Who a rate limit counts against, and how much they may do.

Authenticated callers are counted by user id (1000/hour by default), everyone else by
address (100/hour). The address is the socket's peer unless TRUSTED_PROXY_COUNT is set,
in which case ProxyFix has already taken it from X-Forwarded-For.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError


def caller_identity() -> str | None:
    """The user id of a valid access token on this request, if there is one."""
    if "rate_limit_identity" not in g:
        identity = None
        if request.headers.get("Authorization", "").startswith("Bearer "):
            try:
                verify_jwt_in_request(optional=True)
                identity = get_jwt_identity()
            except (JWTExtendedException, PyJWTError):
                identity = None  # an invalid token is rejected by the view; count by address
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
