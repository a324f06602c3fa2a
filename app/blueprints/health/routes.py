"""Health, readiness and liveness probes (never throttled, never authenticated)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from app.api import Blueprint
from app.services.health import (
    CheckResult,
    check_cache,
    check_database,
    check_migrations,
)

blp = Blueprint("health", __name__, description="Health, readiness and liveness checks.")


class CheckSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok", "description": "ok or unavailable"})
    checks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(CheckSchema),
        metadata={"example": {"database": {"status": "ok"}, "cache": {"status": "ok"}}},
    )


def health_body(results: list[CheckResult]) -> tuple[dict[str, Any], int]:
    healthy = all(result.ok for result in results)
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {result.name: {"status": result.detail} for result in results},
    }
    return body, 200 if healthy else 503


@blp.route("/")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is failing")
    def get(self) -> tuple[dict[str, Any], int]:
        """Check the database and the cache."""
        return health_body([check_database(), check_cache()])


@blp.route("/live/")
class Liveness(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """The process is running."""
        return {"status": "ok", "checks": {}}


@blp.route("/ready/")
class Readiness(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="Not ready to serve")
    def get(self) -> tuple[dict[str, Any], int]:
        """The database is reachable and migrated to the newest revision."""
        return health_body([check_database(), check_migrations()])
