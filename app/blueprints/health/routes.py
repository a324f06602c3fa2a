"""Health, readiness and liveness probes (never throttled, never authenticated)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from app.api import AlsoResponse, Blueprint, View
from app.services.health import (
    DOWN,
    CheckResult,
    check_cache,
    check_database,
    check_readiness,
    overall_status,
)

blp = Blueprint("health", __name__, description="Health, readiness and liveness checks.")


class CheckSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    detail = ma.fields.String(metadata={"example": "ok"})


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok", "description": "ok or unavailable"})
    checks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(CheckSchema),
        metadata={"example": {"database": {"status": "ok"}, "cache": {"status": "ok"}}},
    )


def probe(operation_id: str, schema: type[ma.Schema], *, failing: str) -> Callable[[View], View]:
    """A probe's operation: 200 with `schema`, or 503 with the same body when `failing`."""
    return blp.operation(operation_id, 200, schema, also={503: AlsoResponse(schema, failing)})


def health_body(results: list[CheckResult]) -> tuple[dict[str, Any], int]:
    healthy = all(result.ok for result in results)
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {result.name: {"status": result.detail} for result in results},
    }
    return body, 200 if healthy else 503


@blp.route("/")
class Health(MethodView):
    @probe("getHealth", HealthSchema, failing="A dependency is failing")
    def get(self) -> tuple[dict[str, Any], int]:
        """Check the database and the cache."""
        return health_body([check_database(), check_cache()])


@blp.route("/live/")
class Liveness(MethodView):
    @blp.operation("getLiveness", 200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """The process is running."""
        return {"status": "ok", "checks": {}}


class ReadinessSchema(ma.Schema):
    status = ma.fields.String(
        metadata={"example": "ok", "description": "ok, degraded (still serving) or down"}
    )
    checks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(CheckSchema),
        metadata={
            "example": {
                "database": {"status": "ok", "detail": "ok"},
                "migrations": {"status": "ok", "detail": "ok"},
                "cache": {"status": "degraded", "detail": "unreachable: requests bypass the cache"},
                "rate_limit_store": {"status": "ok", "detail": "ok"},
                "tmdb": {"status": "ok", "detail": "configured"},
            }
        },
    )


@blp.route("/ready/")
class Readiness(MethodView):
    @probe("getReadiness", ReadinessSchema, failing="The API cannot serve")
    def get(self) -> tuple[dict[str, Any], int]:
        """Each dependency: ok, degraded or down.

        503 only when the API cannot serve (the database is down or not migrated); always
        answers within READINESS_TIMEOUT.
        """
        statuses = check_readiness(current_app.config["READINESS_TIMEOUT"])
        status = overall_status(statuses)
        body = {
            "status": status,
            "checks": {s.name: {"status": s.status, "detail": s.detail} for s in statuses},
        }
        return body, 503 if status == DOWN else 200
