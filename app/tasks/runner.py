"""Celery bound to the app, as the Flask documentation's Celery pattern does it (every task
runs inside an app context), and `enqueue`, the one way the app starts a job.

With CELERY_BROKER_URL set, a job goes to the broker and a worker (`make worker`) runs it.
Without one (the default: `make run`, SQLite), the same task runs in this process: after the
response when a request asked for it (the answer never waits on it), at once from the CLI.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.utils import uuid
from flask import Flask, after_this_request, current_app, has_request_context
from flask.wrappers import Response
from kombu.exceptions import OperationalError as BrokerUnavailable

from app.services.jobs.runs import record_queued
from app.tasks import catalogue, imports, recommender

logger = logging.getLogger(__name__)

# Every task module, imported so that their shared tasks exist when Celery is configured.
TASK_MODULES = (catalogue, imports, recommender)
# Seconds to reach the broker before a web request gives up on it (and runs the job itself).
BROKER_TIMEOUT_SECONDS = 2.0
VISIBILITY_TIMEOUT_SECONDS = 6 * 60 * 60


def celery_init_app(app: Flask) -> Celery:
    """A Celery app for `app`, kept in app.extensions["celery"]; its tasks run in an app
    context of `app`."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_settings(app.config))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def celery_settings(config: Any) -> dict[str, Any]:
    """Celery's settings, derived from ours (config.py)."""
    broker_url = config["CELERY_BROKER_URL"]
    return {
        # No broker: an in-memory one, which only the eager and in-process paths ever use.
        "broker_url": broker_url or "memory://localhost/",
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": BROKER_TIMEOUT_SECONDS,
        "broker_transport_options": {
            "socket_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            # Redis hands an unacknowledged job to another worker after this long: longer
            # than the longest job (a large MovieLens import), or it would run twice at once.
            "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
        },
        # One quick retry when publishing: a request never hangs on a broker that is down.
        "task_publish_retry_policy": {
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
        "task_default_queue": config["CELERY_QUEUE"],
        # Outcomes are recorded in job_runs, not in a result backend.
        "task_ignore_result": True,
        "task_always_eager": bool(config["CELERY_TASK_ALWAYS_EAGER"]),
        # A job is acknowledged when it finished, so a worker that dies loses none of them.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "beat_schedule": beat_schedule(config),
    }


def beat_schedule(config: Any) -> dict[str, dict[str, Any]]:
    """The recurring jobs `celery beat` starts; TMDb's only when TMDb is configured, the
    tuning only when JOBS_TUNE_INTERVAL_SECONDS is positive."""
    schedule: dict[str, dict[str, Any]] = {
        "retrain-when-due": {
            "task": "recommender.retrain_if_due",
            "schedule": timedelta(seconds=config["JOBS_RETRAIN_CHECK_SECONDS"]),
        },
        "retrain-on-schedule": {
            "task": "recommender.retrain",
            "schedule": timedelta(seconds=config["JOBS_RETRAIN_INTERVAL_SECONDS"]),
            "args": ("schedule",),
        },
        "precompute-stale-recommendations": {
            "task": "recommender.precompute_stale",
            "schedule": timedelta(seconds=config["JOBS_PRECOMPUTE_INTERVAL_SECONDS"]),
        },
    }
    if config["JOBS_TUNE_INTERVAL_SECONDS"] > 0:
        schedule["tune-on-schedule"] = {
            "task": "recommender.tune",
            "schedule": timedelta(seconds=config["JOBS_TUNE_INTERVAL_SECONDS"]),
            "args": ("schedule",),
        }
    if config["TMDB_API_KEY"]:
        schedule["tmdb-changes"] = {
            "task": "catalogue.sync_tmdb_changes",
            "schedule": timedelta(seconds=config["JOBS_TMDB_CHANGES_INTERVAL_SECONDS"]),
        }
        schedule["tmdb-lists"] = {
            "task": "catalogue.sync_tmdb_pages",
            "schedule": timedelta(seconds=config["JOBS_TMDB_PAGES_INTERVAL_SECONDS"]),
            "args": (config["JOBS_TMDB_SYNC_PAGES"],),
        }
    return schedule


def broker_configured() -> bool:
    """Whether a broker (and so a worker) runs the jobs."""
    return bool(current_app.config["CELERY_BROKER_URL"])


def app_task(task: Task) -> Task:
    """`task` as registered on the current app's Celery (tests build several apps)."""
    celery_app: Celery = current_app.extensions["celery"]
    return celery_app.tasks[task.name]


def enqueue(task: Task, *args: Any, summary: str = "") -> str:
    """Start `task(*args)` as a job and return its id; its run is recorded from now on.

    On a worker when a broker is configured (or at once when jobs run eagerly); otherwise,
    or when the broker cannot be reached, in this process: after the response inside a
    request, at once elsewhere.
    """
    bound = app_task(task)
    task_id = uuid()
    record_queued(task_id, bound.name, summary)
    if broker_configured() or bound.app.conf.task_always_eager:
        try:
            bound.apply_async(args=args, task_id=task_id)
            return task_id
        except BrokerUnavailable as error:
            logger.warning(
                "broker unavailable (%s): job %s runs in this process",
                error.__class__.__name__,
                bound.name,
            )
    if has_request_context():
        run_after_response(bound, args, task_id)
    else:
        run_in_process(bound, args, task_id)
    return task_id


def run_in_process(task: Task, args: tuple[Any, ...], task_id: str | None = None) -> bool:
    """Run the task here and now, retries included (without their waits); True when the
    job succeeded. Its run is recorded like a worker's."""
    result = task.apply(args=args, task_id=task_id or uuid())
    return not result.failed()


def run_after_response(task: Task, args: tuple[Any, ...], task_id: str) -> None:
    """Run the task once the current response has been sent (its own app context)."""

    @after_this_request
    def schedule(response: Response) -> Response:
        response.call_on_close(lambda: run_in_process(task, args, task_id))
        return response


def request_retraining(reason: str) -> None:
    """Where a web worker's training request goes (model_versions.request_training): to a
    Celery worker. Without a broker, or when it cannot be reached, nothing trains in the web
    process: the request stays in the log for `flask recommender train` (`make run` trains
    before it starts the server)."""
    if not broker_configured():
        return
    try:
        app_task(recommender.retrain).apply_async(args=(reason,))
    except BrokerUnavailable as error:
        logger.warning("broker unavailable (%s): training request kept in the log", error)
