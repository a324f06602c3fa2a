"""Job runs as staff see them: one `job_runs` row per job, updated by each attempt.

Every write commits the caller's session: a job commits its own work step by step, and its
row must say how far it got even when a later step fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import JobRun, utcnow

# Longest error text kept (a traceback's last line, not the traceback).
ERROR_MAX_LENGTH = 2000
SUMMARY_MAX_LENGTH = 500


def _run(task_id: str, name: str, args_summary: str) -> JobRun:
    run = db.session.scalar(select(JobRun).where(JobRun.task_id == task_id))
    if run is None:
        run = JobRun(task_id=task_id, name=name, args_summary=args_summary[:SUMMARY_MAX_LENGTH])
        db.session.add(run)
    return run


def record_queued(task_id: str, name: str, args_summary: str) -> None:
    """A job was handed to the broker (or scheduled after the response). Commits."""
    run = _run(task_id, name, args_summary)
    run.state = "queued"
    db.session.commit()


def record_attempt_started(task_id: str, name: str, args_summary: str, attempt: int) -> None:
    """Attempt `attempt` (1 first) of a job begins. Commits."""
    run = _run(task_id, name, args_summary)
    run.args_summary = args_summary[:SUMMARY_MAX_LENGTH]
    run.state = "running"
    run.attempts = attempt
    run.started_at = run.started_at or utcnow()
    run.finished_at = None
    db.session.commit()


def record_progress(task_id: str, done: int, total: int | None) -> None:
    """How far the running attempt got (rows, users, movies). Commits."""
    run = db.session.scalar(select(JobRun).where(JobRun.task_id == task_id))
    if run is not None:
        run.progress_done = done
        run.progress_total = total
        db.session.commit()


def record_succeeded(task_id: str, result: str) -> None:
    """The job did its work. Commits."""
    _finish(task_id, "succeeded", result=result)


def record_nothing_to_do(task_id: str, reason: str) -> None:
    """A queued job found nothing to do: its row (if it was queued with one) says so. A
    scheduled check that finds nothing leaves no row. Commits."""
    run = db.session.scalar(select(JobRun).where(JobRun.task_id == task_id))
    if run is not None:
        _finish(task_id, "succeeded", result=reason)


def record_failed(task_id: str, error: str, *, will_retry: bool) -> None:
    """An attempt failed: the job is retried later (`will_retry`) or has failed for good.
    Rolls back whatever the attempt left unsaved first. Commits."""
    db.session.rollback()
    if will_retry:
        run = db.session.scalar(select(JobRun).where(JobRun.task_id == task_id))
        if run is not None:
            run.state = "retrying"
            run.error = error[:ERROR_MAX_LENGTH]
            db.session.commit()
        return
    _finish(task_id, "failed", error=error)


def _finish(task_id: str, state: str, *, result: str = "", error: str = "") -> None:
    run = db.session.scalar(select(JobRun).where(JobRun.task_id == task_id))
    if run is None:
        return
    now = utcnow()
    run.state = state
    run.result = result
    if error:
        run.error = error[:ERROR_MAX_LENGTH]
    run.finished_at = now
    started: datetime = run.started_at or now
    run.duration_seconds = round((now - started).total_seconds(), 3)
    db.session.commit()


def get_run(task_id: str) -> JobRun | None:
    return db.session.scalar(select(JobRun).where(JobRun.task_id == task_id))


def recent_runs(limit: int = 50, name: str | None = None) -> Sequence[JobRun]:
    """The latest job runs, newest first (of job `name` only when given)."""
    statement = select(JobRun).order_by(JobRun.created_at.desc(), JobRun.id.desc()).limit(limit)
    if name is not None:
        statement = statement.where(JobRun.name == name)
    return db.session.scalars(statement).all()
