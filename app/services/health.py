"""Checks behind the health, readiness and liveness probes."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import cache, db

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    # Shown to everyone, so it never carries hosts, ports or driver messages.
    detail: str


def check_database() -> CheckResult:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        logger.warning("health: database check failed: %s", error.__class__.__name__)
        db.session.rollback()
        return CheckResult("database", False, "unreachable")
    return CheckResult("database", True, "ok")


def check_cache() -> CheckResult:
    key = f"health:{uuid.uuid4().hex}"
    try:
        cache.set(key, "ok", timeout=10)
        ok = cache.get(key) == "ok"
        cache.delete(key)
    except Exception as error:  # noqa: BLE001 - cache backends raise their own error types
        logger.warning("health: cache check failed: %s", error.__class__.__name__)
        ok = False
    return CheckResult("cache", ok, "ok" if ok else "unavailable")


def check_migrations() -> CheckResult:
    """The database is at the newest migration, so the code's schema is really there."""
    directory = current_app.extensions["migrate"].directory
    head = ScriptDirectory(directory).get_current_head()
    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        logger.warning("readiness: database check failed: %s", error.__class__.__name__)
        return CheckResult("migrations", False, "database unreachable")
    if current != head:
        return CheckResult("migrations", False, "not at the latest migration")
    return CheckResult("migrations", True, "ok")
