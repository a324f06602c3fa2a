"""Security headers on every response, and the nesting limit of JSON request bodies."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app.errors import ValidationFailed

# Deepest JSON body accepted (levels of arrays and objects): no request needs more than 3,
# and parsing or validating thousands of levels exhausts the stack.
MAX_JSON_DEPTH = 32

# API responses are data, never a page: nothing may load, frame or run from them.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI is a page that runs its own (local) script and an inline bootstrap.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class TrustedProxyFix(ProxyFix):
    """ProxyFix applied only when the socket peer is one of `allowed` (addresses or
    networks): anyone else's X-Forwarded-* headers are ignored."""

    def __init__(self, app: Any, allowed: Iterable[str], **hops: int) -> None:
        super().__init__(app, **hops)
        self.networks = [ipaddress.ip_network(item, strict=False) for item in allowed]
        self.untrusted_app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            peer = None
        if peer is not None and any(peer in network for network in self.networks):
            return super().__call__(environ, start_response)
        return self.untrusted_app(environ, start_response)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        is_page = request.path.startswith(("/api/docs", "/admin"))
        headers.setdefault("Content-Security-Policy", DOCS_CSP if is_page else API_CSP)
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def json_depth(value: Any) -> int:
    """How many levels of arrays and objects `value` has (0 for a scalar), iteratively."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in item)
    return deepest


def register_json_depth_limit(app: Flask) -> None:
    """Refuse JSON bodies nested deeper than MAX_JSON_DEPTH, for every endpoint at once."""

    @app.before_request
    def refuse_deeply_nested_json() -> None:
        if not request.is_json:
            return
        body = request.get_data(cache=True)
        if not body:
            return
        try:
            depth = json_depth(json.loads(body))
        except RecursionError:
            depth = MAX_JSON_DEPTH + 1
        except ValueError:
            return  # not JSON at all: the endpoint's parser answers 400 invalid_json
        if depth > MAX_JSON_DEPTH:
            raise ValidationFailed(
                f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.",
                code="json_too_deep",
            )
