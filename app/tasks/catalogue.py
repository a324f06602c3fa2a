"""TMDb upkeep jobs: the incremental `/movie/changes` sync and the list sync."""

from __future__ import annotations

from celery import Task, shared_task
from flask import current_app

from app.services.catalogue import SyncSummary, fetch_missing_details, sync_catalogue
from app.services.jobs.tmdb_upkeep import sync_changed_movies
from app.tasks.job import RetryLater, job_run


@shared_task(bind=True, name="catalogue.sync_tmdb_changes")
def sync_tmdb_changes(self: Task) -> None:
    """Refresh the local movies TMDb changed since the last run."""
    with job_run(self, "since the last run") as job:
        summary = sync_changed_movies(
            sleep=current_app.config["JOBS_TMDB_SLEEP_SECONDS"], on_progress=job.report
        )
        job.result = summary.describe()


@shared_task(bind=True, name="catalogue.sync_tmdb_pages")
def sync_tmdb_pages(self: Task, pages: int) -> None:
    """Genres, `pages` pages of each TMDb list, then the details movies lack."""
    sleep = current_app.config["JOBS_TMDB_SLEEP_SECONDS"]
    with job_run(self, f"pages={pages}") as job:
        summary = sync_catalogue(pages, sleep=sleep)
        if summary.aborted is None:
            fetch_missing_details(sleep=sleep, summary=summary)
        if summary.aborted is not None:
            # TMDb down or refusing the key: the pages saved stay saved, the job retries.
            raise RetryLater(summary.aborted)
        job.result = describe_sync(summary)


def describe_sync(summary: SyncSummary) -> str:
    return (
        f"{summary.records_upserted} records upserted, {summary.unique_movies} unique movies, "
        f"{summary.details_fetched} details fetched, {summary.unknown_to_tmdb} unknown to "
        f"TMDb, {summary.failures} failed"
    )
