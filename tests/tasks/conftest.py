"""Fixtures of the job tests: the recorded runs, read back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import JobRun


@pytest.fixture
def job_runs(app: Flask) -> Callable[..., list[dict[str, Any]]]:
    """The recorded job runs (of job `name` when given), oldest first, as plain dicts."""

    def read(name: str | None = None) -> list[dict[str, Any]]:
        with app.app_context():
            statement = select(JobRun).order_by(JobRun.id)
            if name is not None:
                statement = statement.where(JobRun.name == name)
            return [
                {
                    "name": run.name,
                    "state": run.state,
                    "attempts": run.attempts,
                    "args_summary": run.args_summary,
                    "progress": (run.progress_done, run.progress_total),
                    "result": run.result,
                    "error": run.error,
                    "duration_seconds": run.duration_seconds,
                    "finished": run.finished_at is not None,
                }
                for run in db.session.scalars(statement)
            ]

    return read
