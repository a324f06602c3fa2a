"""Background jobs: one row per job run (its state, attempts, progress and outcome), and the
cursors recurring jobs resume from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, utcnow

JOB_STATES = ("queued", "running", "retrying", "succeeded", "failed")
# The states a run is still under way in (the admin shows them first).
UNFINISHED_STATES = ("queued", "running", "retrying")


class JobRun(TimestampMixin, Base):
    """One job, from enqueueing to its last attempt: retries update the same row."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_created", "created_at"),
        Index("ix_job_runs_name_created", "name", "created_at"),
        CheckConstraint(f"state IN {JOB_STATES!r}", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Celery's task id (a UUID), also given to jobs run in-process: retries find the row by it.
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # What the job was asked to do, readable by staff ("user 12", "pages=5").
    args_summary: Mapped[str] = mapped_column(String(500), default="", server_default="")
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_total: Mapped[int | None] = mapped_column(Integer, default=None)
    # What the job did, in a line (for the admin); the error of its last failed attempt.
    result: Mapped[str] = mapped_column(Text, default="", server_default="")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)

    def __repr__(self) -> str:
        return f"<JobRun {self.id} {self.name} {self.state}>"


class JobCursor(Base):
    """Where a recurring job stopped, by name: the end date of the last TMDb changes sync,
    the interaction watermark the model was last trained at."""

    __tablename__ = "job_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
