"""History imports: one uploaded file (Letterboxd, IMDb or Trakt) and how far its run got."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin

IMPORT_SOURCES = ("letterboxd", "imdb", "trakt")
IMPORT_STATUSES = ("pending", "running", "completed", "failed")
CONFLICT_POLICIES = ("keep", "replace")


class Import(TimestampMixin, Base):
    """An uploaded history file and its run: status, progress, counts and problem rows.

    The file itself is kept (it is size-limited), so a job runner can run the import later
    and an interrupted run can resume from `rows_done` without the user uploading again.
    """

    __tablename__ = "imports"
    __table_args__ = (
        Index("ix_imports_user_created", "user_id", "created_at"),
        CheckConstraint(f"source IN {IMPORT_SOURCES!r}", name="source"),
        CheckConstraint(f"status IN {IMPORT_STATUSES!r}", name="status"),
        CheckConstraint(f"on_conflict IN {CONFLICT_POLICIES!r}", name="on_conflict"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))
    on_conflict: Mapped[str] = mapped_column(String(10), default="keep")
    filename: Mapped[str] = mapped_column(String(255), default="", server_default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    payload: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    rows_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rows_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # rows_read, matched, unmatched, invalid, created, updated, already_present, movies_added
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # One entry per unmatched or invalid row: {file, line, title, year, reason}
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def progress(self) -> dict[str, int]:
        return {"done": self.rows_done, "total": self.rows_total}
