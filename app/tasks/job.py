"""What every task does around its work: record the run (state, attempts, progress,
outcome, duration) and retry passing failures with exponential back-off."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from celery import Task
from celery.utils import uuid
from flask import current_app
from sqlalchemy.exc import OperationalError

from app.errors import DomainError, UpstreamUnavailable
from app.services.jobs.runs import (
    record_attempt_started,
    record_failed,
    record_nothing_to_do,
    record_progress,
    record_succeeded,
)

logger = logging.getLogger(__name__)


class RetryLater(Exception):
    """The job could not do its work this time for a reason that may pass (it is retried)."""


# Failures the next attempt may not meet: TMDb or the database down, a stopped sync.
PASSING_FAILURES: tuple[type[BaseException], ...] = (
    UpstreamUnavailable,
    OperationalError,
    RetryLater,
)


@dataclass
class JobProgress:
    """Handed to the job's body: report progress, and say what the job did."""

    task_id: str
    result: str = ""

    def report(self, done: int, total: int | None = None) -> None:
        record_progress(self.task_id, done, total)


def retry_countdown(retries: int) -> int:
    """Seconds before the next attempt: 2, 4, 8... up to JOBS_RETRY_BACKOFF_MAX_SECONDS."""
    ceiling = int(current_app.config["JOBS_RETRY_BACKOFF_MAX_SECONDS"])
    return int(min(ceiling, 2 ** (retries + 1)))


def describe(error: BaseException) -> str:
    detail = error.detail if isinstance(error, DomainError) else str(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def nothing_to_do(task: Task, reason: str) -> None:
    """The job had nothing to do: a queued one's row says why, a scheduled one leaves none."""
    if task.request.id:
        record_nothing_to_do(task.request.id, reason)


@contextmanager
def job_run(task: Task, summary: str) -> Iterator[JobProgress]:
    """Record one attempt of `task` around the block; a passing failure is retried (up to
    JOBS_MAX_RETRIES times), any other fails the job at once. Either way the row says why."""
    request = task.request
    task_id = request.id or uuid()  # a task called directly has no id
    retries = int(request.retries or 0)
    progress = JobProgress(task_id)
    try:
        record_attempt_started(task_id, task.name, summary, retries + 1)
        yield progress
    except PASSING_FAILURES as error:
        max_retries = int(current_app.config["JOBS_MAX_RETRIES"])
        will_retry = retries < max_retries and not request.called_directly
        try:
            record_failed(task_id, describe(error), will_retry=will_retry)
        except OperationalError:  # the database is what failed: retry all the same
            logger.warning("job %s: could not record its failure", task_id)
        if will_retry:
            raise task.retry(
                exc=error, countdown=retry_countdown(retries), max_retries=max_retries
            ) from error
        raise
    except Exception as error:
        record_failed(task_id, describe(error), will_retry=False)
        raise
    record_succeeded(task_id, progress.result)
