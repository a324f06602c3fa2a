"""Checks behind the health, readiness and liveness probes."""

from __future__ import annotations

import ast
import functools
import logging
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import cache, db, limiter
from config import MIGRATIONS_DIR

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
    heads = migration_heads(MIGRATIONS_DIR)
    try:
        with db.engine.connect() as connection:
            current = applied_revisions(connection)
    except SQLAlchemyError as error:
        logger.warning("readiness: database check failed: %s", error.__class__.__name__)
        return CheckResult("migrations", False, "database unreachable")
    if current != heads:
        return CheckResult("migrations", False, "not at the latest migration")
    return CheckResult("migrations", True, "ok")


@functools.cache
def migration_heads(directory: Path) -> frozenset[str]:
    """The head revisions of the migrations in `directory`: the ones no other migration names
    as its `down_revision`, read from the files' `revision = ...` and `down_revision = ...`
    lines as Alembic reads them. Alembic itself is not imported: only `flask db` needs it,
    and a web worker would carry it for this one probe (docs/scaling.md)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((directory / "versions").glob("*.py")):
        names = module_constants(path, ("revision", "down_revision"))
        if not isinstance(names.get("revision"), str):
            continue
        revisions.add(names["revision"])
        down = names.get("down_revision")
        parents.update(down if isinstance(down, tuple | list) else [down] if down else [])
    return frozenset(revisions - parents)


def module_constants(path: Path, names: tuple[str, ...]) -> dict[str, Any]:
    """The literal values assigned to `names` at the top level of a Python file."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                found[target.id] = ast.literal_eval(value)
    return found


def applied_revisions(connection: Connection) -> frozenset[str] | None:
    """The revisions recorded in the database's `alembic_version` (None: never migrated)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version"))
    return frozenset(rows.scalars())


# --- Readiness: each dependency ok / degraded / down, answered within READINESS_TIMEOUT ----

OK, DEGRADED, DOWN = "ok", "degraded", "down"
# Without these the API cannot serve at all; the others only degrade it.
ESSENTIAL = frozenset({"database", "migrations"})


@dataclass(frozen=True)
class DependencyStatus:
    name: str
    status: str  # ok, degraded or down
    detail: str


def probe_database() -> DependencyStatus:
    result = check_database()
    return DependencyStatus("database", OK if result.ok else DOWN, result.detail)


def probe_migrations() -> DependencyStatus:
    result = check_migrations()
    return DependencyStatus("migrations", OK if result.ok else DOWN, result.detail)


def probe_cache() -> DependencyStatus:
    backend = cache.cache
    ping = getattr(backend, "ping", None)
    if ping is None:
        return DependencyStatus("cache", OK, "in-process")
    if ping():
        return DependencyStatus("cache", OK, "ok")
    return DependencyStatus("cache", DEGRADED, "unreachable: requests bypass the cache")


def probe_rate_limit_store() -> DependencyStatus:
    storage = limiter.storage
    if storage.__class__.__name__ == "MemoryStorage":
        return DependencyStatus("rate_limit_store", OK, "in-process")
    if storage.check():
        return DependencyStatus("rate_limit_store", OK, "ok")
    return DependencyStatus(
        "rate_limit_store", DEGRADED, "unreachable: limits are counted in each process"
    )


def probe_tmdb() -> DependencyStatus:
    """Configured or not: TMDb itself is not called, so its outages never fail readiness."""
    if current_app.config["TMDB_API_KEY"].strip():
        return DependencyStatus("tmdb", OK, "configured")
    return DependencyStatus("tmdb", DEGRADED, "not configured: TMDb endpoints answer 503")


PROBES: tuple[Callable[[], DependencyStatus], ...] = (
    probe_database,
    probe_migrations,
    probe_cache,
    probe_rate_limit_store,
    probe_tmdb,
)
PROBE_NAMES = ("database", "migrations", "cache", "rate_limit_store", "tmdb")

_executor: tuple[int, ThreadPoolExecutor] | None = None


def probe_executor() -> ThreadPoolExecutor:
    """One pool per process (threads do not survive a fork). A probe that outlives the
    deadline finishes in the background, bounded by its own connect and socket timeouts."""
    global _executor
    if _executor is None or _executor[0] != os.getpid():
        _executor = (os.getpid(), ThreadPoolExecutor(max_workers=16, thread_name_prefix="probe"))
    return _executor[1]


def _run_probe(app: Flask, probe: Callable[[], DependencyStatus]) -> DependencyStatus:
    with app.app_context():
        return probe()


def check_readiness(timeout: float) -> list[DependencyStatus]:
    """Every dependency's status, probed at once; one that has not answered in `timeout`
    seconds is down (database, migrations) or degraded (the others)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    futures = [probe_executor().submit(_run_probe, app, probe) for probe in PROBES]
    wait(futures, timeout=timeout)
    statuses = []
    for name, future in zip(PROBE_NAMES, futures, strict=True):
        if future.done():
            statuses.append(future.result())
        else:
            future.cancel()
            status = DOWN if name in ESSENTIAL else DEGRADED
            statuses.append(DependencyStatus(name, status, f"no answer within {timeout:g} s"))
    return statuses


def overall_status(statuses: list[DependencyStatus]) -> str:
    """down when an essential dependency is down, degraded when anything is not ok."""
    if any(s.status == DOWN and s.name in ESSENTIAL for s in statuses):
        return DOWN
    return OK if all(s.status == OK for s in statuses) else DEGRADED
