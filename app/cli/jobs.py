"""`flask jobs run NAME [--queue]` and `flask jobs recent`: the background jobs by hand."""

from __future__ import annotations

from typing import Any

import click
from celery import Task
from celery.utils import uuid
from flask import current_app
from flask.cli import with_appcontext

from app.services.jobs.runs import get_run, recent_runs
from app.tasks import catalogue, recommender
from app.tasks.runner import app_task, broker_configured, enqueue, run_in_process


def runnable_jobs() -> dict[str, tuple[Task, tuple[Any, ...]]]:
    """Each job's CLI name, its task and its arguments."""
    return {
        "retrain": (recommender.retrain, ("cli",)),
        "retrain-if-due": (recommender.retrain_if_due, ()),
        "tune": (recommender.tune, ("cli",)),
        "precompute": (recommender.precompute_stale, ()),
        "tmdb-changes": (catalogue.sync_tmdb_changes, ()),
        "tmdb-lists": (
            catalogue.sync_tmdb_pages,
            (current_app.config["JOBS_TMDB_SYNC_PAGES"],),
        ),
    }


JOB_NAMES = ("retrain", "retrain-if-due", "tune", "precompute", "tmdb-changes", "tmdb-lists")


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: run one now, or see the recent runs."""


@jobs_group.command("run")
@click.argument("name", type=click.Choice(JOB_NAMES))
@click.option("--queue", is_flag=True, help="Hand it to the workers (needs CELERY_BROKER_URL).")
@with_appcontext
def run_job_command(name: str, queue: bool) -> None:
    """Run job NAME here and now (recorded like a worker's run), or queue it."""
    task, args = runnable_jobs()[name]
    if queue:
        if not broker_configured():
            raise click.UsageError("--queue needs CELERY_BROKER_URL (a broker and a worker).")
        click.echo(f"Queued {name}: job {enqueue(task, *args, summary=' '.join(map(str, args)))}.")
        return
    task_id = uuid()
    succeeded = run_in_process(app_task(task), args, task_id)
    run = get_run(task_id)
    if run is not None:
        click.echo(f"{run.name}: {run.state} after {run.attempts} attempt(s). {run.result}")
        if run.error and not succeeded:
            click.echo(f"Error: {run.error}", err=True)
    else:
        click.echo(f"{name}: nothing to do.")
    if not succeeded:
        raise SystemExit(1)


@jobs_group.command("recent")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@with_appcontext
def recent_jobs_command(limit: int) -> None:
    """The latest job runs, newest first."""
    for run in recent_runs(limit):
        duration = f"{run.duration_seconds:.1f} s" if run.duration_seconds is not None else "-"
        click.echo(
            f"{run.created_at:%Y-%m-%d %H:%M:%S}  {run.name:<28} {run.state:<9} "
            f"x{run.attempts}  {duration:>8}  {run.args_summary}"
        )
