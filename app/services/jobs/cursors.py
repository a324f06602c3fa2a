"""Where recurring jobs stopped (`job_cursors`): read and moved by name."""

from __future__ import annotations

from app.extensions import db
from app.models import JobCursor

TMDB_CHANGES = "tmdb.changes.end_date"


def read_cursor(name: str) -> str | None:
    cursor = db.session.get(JobCursor, name)
    return cursor.value if cursor is not None else None


def move_cursor(name: str, value: str) -> None:
    """Set the cursor (part of the caller's transaction)."""
    cursor = db.session.get(JobCursor, name)
    if cursor is None:
        db.session.add(JobCursor(name=name, value=value))
    else:
        cursor.value = value
