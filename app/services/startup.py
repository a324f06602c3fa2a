"""What the gunicorn master does with the app it loaded, before it forks the workers."""

from __future__ import annotations

import ctypes
import gc
import logging
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import User
from app.services import recommender
from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD

logger = logging.getLogger(__name__)


def ready_message(app: Flask | None, base_url: str) -> str:
    """`Ready: API docs at <base_url>/api/docs/`, with the demo login when the demo user
    exists (never in production)."""
    message = f"Ready: API docs at {base_url}/api/docs/"
    if app is None or app.config["APP_ENV"] == "production":
        return message
    with app.app_context():
        try:
            demo = db.session.scalar(select(User.id).where(User.email == DEMO_EMAIL))
        except SQLAlchemyError:
            demo = None  # not migrated yet, or no database: the docs still answer
        finally:
            db.session.remove()
    if demo is not None:
        message += f" - demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}"
    return message


def prepare_for_workers(app: Flask) -> None:
    """Load the current item-model version and the engine's catalogue arrays once, for every
    worker (and every recycled one) to inherit, so none builds them on a request (the master
    never trains: that is a job's work); then close every database connection: a connection
    shared across a fork would mix two processes' traffic.

    The arrays are as the catalogue was when the master started; a worker notices a change
    at its first catalogue check (RECOMMENDER_CATALOGUE_CHECK_SECONDS) and reloads them."""
    with app.app_context():
        try:
            recommender.warm_caches()
        except SQLAlchemyError as error:
            logger.warning("item model not loaded before the workers start: %s", error)
        finally:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def forget_inherited_connections(app: Flask) -> None:
    """In a new worker: drop the pool inherited from the master without closing its
    sockets, which the master owns (SQLAlchemy's advice for forked processes)."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def close_database_connections(app: Flask) -> None:
    """Close this process's pooled database connections (a worker about to exit)."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def settle_memory_for_fork() -> None:
    """Just before the master forks the workers: collect garbage, freeze what survives and
    give the heap that loading freed back to the system.

    A forked worker's RSS starts as the master's resident memory, and the master keeps the
    heap that building the app and the engine's arrays freed (malloc holds on to it):
    returned now, no worker carries it (docs/scaling.md). gc.freeze() puts the master's
    objects out of the collector's reach, so a worker's collections never write to (and so
    copy) the pages that hold them: they stay shared by every worker."""
    gc.collect()
    gc.freeze()
    trim = malloc_trim()
    if trim is not None:
        trim(0)


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
