"""Who a rate limit counts against, and how much they may do.

Authenticated callers are counted by user id (1000/hour by default), everyone else by
address (100/hour). Login and registration have their own buckets (see LOGIN_BUCKETS)
that replace those defaults, so browsing anonymously never uses up the attempts someone
needs to sign in. The address is the socket's peer unless that peer is a proxy in
FORWARDED_ALLOW_IPS, in which case ProxyFix took it from X-Forwarded-For. Every limit is
a callable read from the config at request time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_limiter import Limiter
from jwt.exceptions import PyJWTError
from limits import parse_many
from limits.storage import RedisStorage

BEARER_PREFIX = "Bearer "


def caller_identity() -> str | None:
    """The user id of a validly signed access token on this request, if there is one.

    Only the signature, expiry and type are checked (no database query): an id taken from
    a signed token cannot be forged, and a revoked token is refused by the view anyway.
    """
    if "rate_limit_identity" not in g:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix(BEARER_PREFIX).strip()
        g.rate_limit_identity = token_identity(token) if header.startswith(BEARER_PREFIX) else None
    identity = g.rate_limit_identity
    return None if identity is None else str(identity)


def token_identity(token: str) -> str | None:
    """The user id of `token` if it is a validly signed, unexpired access token. The
    signature is verified once per process (`app.verified_tokens`): the view checks the
    same token right after."""
    try:
        payload = decode_token(token)
    except (JWTExtendedException, PyJWTError):
        return None  # an invalid token is rejected by the view; count by address
    is_access = payload.get("type") == "access" and payload.get("sub")
    return str(payload["sub"]) if is_access else None


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


# Login throttling, one policy for the API and the admin's login form: both count in the
# same buckets (scope and key), so the two forms give no extra guesses.
#   account + address  RATELIMIT_LOGIN          (10/minute) slows one guesser down sharply
#   address            RATELIMIT_LOGIN_ADDRESS  (30/minute) one address trying many accounts
#   account            RATELIMIT_LOGIN_ACCOUNT  (100/hour)  many addresses, one account
# A stranger's failures use up their own account+address bucket, not the owner's.
LOGIN_BUCKETS = (
    ("login-account-address", "RATELIMIT_LOGIN"),
    ("login-address", "RATELIMIT_LOGIN_ADDRESS"),
    ("login-account", "RATELIMIT_LOGIN_ACCOUNT"),
)


def login_keys(email: str) -> dict[str, str]:
    """The key of each login bucket (by scope) for an attempt on `email` from here.
    Attempts without a usable email count by address alone."""
    account = email.strip().lower()
    address = client_address()
    if not account:
        account = f"no-email@{address}"
    return {
        "login-account-address": f"{account}|{address}",
        "login-address": address,
        "login-account": account,
    }


def _login_email_in_body() -> str:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return email if isinstance(email, str) else ""


def login_limits(limiter: Limiter) -> list[Any]:
    """Flask-Limiter decorators for the API login: one shared limit per bucket."""

    def key_for(scope: str) -> Callable[[], str]:
        return lambda: login_keys(_login_email_in_body())[scope]

    def limit_for(setting: str) -> Callable[[], str]:
        return lambda: str(current_app.config[setting])

    return [
        limiter.shared_limit(limit_for(setting), scope=scope, key_func=key_for(scope))
        for scope, setting in LOGIN_BUCKETS
    ]


def hit_login_buckets(limiter: Limiter, email: str) -> bool:
    """Count one login attempt made outside the API (the admin form) in the API's
    buckets; False when one of them is already full."""
    if not limiter.enabled:
        return True
    keys = login_keys(email)
    allowed = True
    for scope, setting in LOGIN_BUCKETS:
        for limit in parse_many(current_app.config[setting]):
            allowed = limiter.limiter.hit(limit, keys[scope], scope) and allowed
    return allowed


def register_rate_limit() -> str:
    return str(current_app.config["RATELIMIT_REGISTER"])


# Login and registration count in buckets of their own (see the auth blueprint), outside
# the API-wide budget, so that browsing never uses up the attempts needed to sign in.
OWN_BUCKET_ENDPOINTS = frozenset({"auth.Login", "auth.Registration"})


# Blueprints whose requests count against no budget (`exempt_blueprints`), by app.
UNTHROTTLED_BLUEPRINTS = "unthrottled_blueprints"


def exempt_blueprints(app: Flask, *names: str) -> None:
    """Take the blueprints `names` out of the API-wide budget.

    Flask-Limiter's own `limiter.exempt(blueprint)` does the same, but it then works out
    every request's exemption from every exempt blueprint again (about 60 flag operations
    a request with the admin's views, 7% of a cached detail's time under cProfile); here it
    is one set lookup."""
    app.extensions.setdefault(UNTHROTTLED_BLUEPRINTS, set()).update(names)


def outside_api_budget() -> bool:
    """Login and registration (buckets of their own) and the unthrottled blueprints."""
    if request.endpoint in OWN_BUCKET_ENDPOINTS:
        return True
    return request.blueprint in current_app.extensions.get(UNTHROTTLED_BLUEPRINTS, ())


# The rate-limit headers, with Flask-Limiter's names, of the limit nearest to running out.
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def register_rate_limit_headers(app: Flask, limiter: Limiter) -> None:
    """X-RateLimit-Limit, -Remaining and -Reset (epoch seconds) on every rate-limited
    response when RATELIMIT_HEADERS_ENABLED. Flask-Limiter's own headers stay off: they
    would also set Retry-After on every response, a 200 or a 503 with its own included."""

    @app.after_request
    def add_rate_limit_headers(response: Response) -> Response:
        limit = limiter.current_limit if app.config["RATELIMIT_HEADERS_ENABLED"] else None
        if limit is None:
            return response
        try:
            values = (limit.limit.amount, limit.remaining, limit.reset_at)
        except Exception:  # noqa: BLE001 - any store's error: the response goes without them
            return response
        for name, value in zip(RATE_LIMIT_HEADERS, values, strict=True):
            response.headers[name] = str(value)
        return response


# --- Counting in Redis in one round trip -----------------------------------------------------
# Flask-Limiter counts a request with one INCR, then asks the same window's count (GET) and
# expiry (TTL) again for the X-RateLimit-* headers: three round trips on every request. The
# increment below answers all three at once and the request keeps the answer.

WINDOW_SCHEME = "window+"
# INCRBY, the expiry on a new window (as limits' own script), and the window's count and TTL.
INCR_WINDOW_SCRIPT = b"""
local current = redis.call("incrby", KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


class WindowRedisStorage(RedisStorage):
    """limits' Redis storage whose increment also returns the window's count and expiry,
    kept for the rest of the request (`g`), so the headers need no further round trip.

    Selected by a `window+redis://` (or `window+rediss://`) storage URI. Outside a request
    (the admin's login form counts in an app context) it behaves as RedisStorage.
    """

    STORAGE_SCHEME = [f"{WINDOW_SCHEME}redis", f"{WINDOW_SCHEME}rediss"]

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri.removeprefix(WINDOW_SCHEME), **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_incr_window = self.get_connection().register_script(INCR_WINDOW_SCRIPT)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count, ttl = self.lua_incr_window([self.prefixed_key(key)], [expiry, amount])
        windows = _request_windows()
        if windows is not None:
            windows[key] = (int(count), time.time() + max(int(ttl), 0))
        return int(count)

    def get(self, key: str) -> int:
        seen = _seen_window(key)
        return seen[0] if seen else super().get(key)

    def get_expiry(self, key: str) -> float:
        seen = _seen_window(key)
        return seen[1] if seen else super().get_expiry(key)


def _request_windows() -> dict[str, tuple[int, float]] | None:
    """The windows this request counted in (key -> count, expiry), None outside one."""
    if not has_app_context():
        return None
    return g.setdefault("rate_limit_windows", {})


def _seen_window(key: str) -> tuple[int, float] | None:
    windows = _request_windows()
    return windows.get(key) if windows else None


def rate_limit_storage_uri(redis_url: str) -> str:
    """The storage URI for counters in the Redis at `redis_url`, in one round trip each."""
    return f"{WINDOW_SCHEME}{redis_url}"
