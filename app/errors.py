"""One error shape for every 4xx and 5xx: RFC 9457 problem details (application/problem+json).

Services raise the domain errors below; this module maps them, HTTP errors, validation
errors, JWT errors, integrity conflicts and database outages to the same JSON body:
``{type, title, status, detail, code[, errors]}``.
"""

from __future__ import annotations

import logging
import math
import time
from http import HTTPStatus
from typing import Any, TypedDict, Unpack

from flask import Flask, Response, current_app, json
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SQLInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"

DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "upstream_timeout",
}


class ProblemDetails(TypedDict, total=False):
    """What a problem response carries besides its status and detail: a stable `code`, the
    messages of each invalid field (`errors`), `extra` members of the body, and headers."""

    code: str | None
    errors: dict[str, Any] | None
    extra: dict[str, Any] | None
    headers: dict[str, str] | None


class DomainError(Exception):
    """An expected failure of a service, carried to the client as a problem response."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str, **details: Unpack[ProblemDetails]) -> None:
        super().__init__(detail)
        self.detail = detail
        code = details.get("code")
        if code is not None:
            self.code = code
        self.errors = details.get("errors")
        self.extra = details.get("extra") or {}
        self.headers = details.get("headers") or {}

    def __init_subclass__(cls, *, status: int, code: str, **kwargs: Any) -> None:
        """Each kind of error names its HTTP status and its default code in its class line."""
        super().__init_subclass__(**kwargs)
        cls.status = status
        cls.code = code


class ValidationFailed(DomainError, status=400, code="validation_error"):
    """The input breaks a rule the schemas cannot check (a password policy, a wrong password)."""


class AuthenticationFailed(DomainError, status=401, code="authentication_failed"):
    """The credentials are wrong, or the account cannot log in."""


class PermissionDenied(DomainError, status=403, code="permission_denied"):
    """The caller may not do this (staff only, say)."""


class NotFound(DomainError, status=404, code="not_found"):
    """No such row, or not one of the caller's."""


class Conflict(DomainError, status=409, code="conflict"):
    """The row already exists (a duplicate favourite, a taken username)."""


class UpstreamError(DomainError, status=502, code="upstream_error"):
    """The upstream service answered, but not usefully (for example a bad TMDb key)."""


class UpstreamUnavailable(DomainError, status=503, code="upstream_unavailable"):
    """The upstream service is not configured, unreachable, timing out or failing."""


def problem_response(status: int, detail: str, **details: Unpack[ProblemDetails]) -> Response:
    """Build an application/problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": details.get("code") or DEFAULT_CODES.get(status, "error"),
    }
    if details.get("errors"):
        body["errors"] = details["errors"]
    body.update(details.get("extra") or {})
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE
    )
    for name, value in (details.get("headers") or {}).items():
        response.headers[name] = value
    return response


def flatten_webargs_messages(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests field errors under their location; clients want the fields."""
    if len(messages) == 1:
        return next(iter(messages.values()))
    merged: dict[str, Any] = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            merged.update(location_errors)
    return merged


def seconds_until_limit_resets() -> int:
    """Seconds until the breached rate limit's window resets (from Flask-Limiter)."""
    for limiter in current_app.extensions.get("limiter", ()):
        limit = limiter.current_limit
        if limit is not None:
            return max(1, math.ceil(limit.reset_at - time.time()))
    return 60


def http_exception_to_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    errors = None
    code = None
    detail = data.get("message") or error.description or HTTPStatus(status).phrase
    if "messages" in data:  # webargs validation failure
        errors = flatten_webargs_messages(data["messages"])
        detail = "The request is not valid: see errors for each field."
        code = "validation_error"
        if errors == ["Invalid JSON body."] or errors == {"json": ["Invalid JSON body."]}:
            detail, code, errors = (
                "The request body is not valid JSON.",
                "invalid_json",
                None,
            )
    elif data.get("errors"):
        errors = data["errors"]
    if status == 429:
        detail = f"Too many requests: the limit is {error.description}. Try again later."
        headers.setdefault("Retry-After", str(seconds_until_limit_resets()))
    if status >= 500 and status not in (502, 503, 504):
        detail = "An unexpected error occurred. It has been logged."
    for name, value in error.get_headers() if status == 405 else []:
        if name.lower() == "allow":
            headers[name] = value
    return problem_response(
        status, detail, code=data.get("code") or code, errors=errors, headers=headers
    )


def rollback_session() -> None:
    """Roll back the request's session (looked up on the app to keep imports one-way)."""
    current_app.extensions["sqlalchemy"].session.rollback()


def register_error_handlers(app: Flask) -> None:
    """Map domain, database and unexpected errors to problem responses."""

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError) -> Response:
        return problem_response(
            error.status,
            error.detail,
            code=error.code,
            errors=error.errors,
            extra=error.extra,
            headers=error.headers,
        )

    @app.errorhandler(IntegrityError)
    def handle_integrity_error(error: IntegrityError) -> Response:
        rollback_session()
        logger.info("integrity conflict: %s", error.orig.__class__.__name__)
        return problem_response(
            409, "The request conflicts with data already stored.", code="conflict"
        )

    @app.errorhandler(DataError)
    def handle_data_error(error: DataError) -> Response:
        rollback_session()
        return problem_response(
            400,
            "A value in the request is out of range for its field.",
            code="invalid_value",
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(SQLInterfaceError)
    @app.errorhandler(PoolTimeoutError)  # no pooled connection came free in time
    def handle_database_unavailable(error: Exception) -> Response:
        logger.error("database unavailable: %s", error.__class__.__name__)
        try:
            rollback_session()
        except (OperationalError, SQLInterfaceError):
            # The connection is already gone: there is nothing left to roll back.
            logger.debug("rollback after a database outage failed", exc_info=True)
        return problem_response(
            503,
            "The database is unavailable. Please retry shortly.",
            code="database_unavailable",
            headers={"Retry-After": "5"},
        )
