"""Long imports as jobs: a MovieLens folder, and users' history files."""

from __future__ import annotations

from pathlib import Path

from celery import Task, shared_task

from app.services.imports.importer import run_import
from app.services.recommendation.movielens_import import import_movielens
from app.services.recommender import reset_caches
from app.tasks.job import RetryLater, job_run


@shared_task(bind=True, name="imports.history")
def import_history(self: Task, import_id: int) -> None:
    """Apply a stored history import; TMDb failing stops it and the job resumes it later."""
    with job_run(self, f"import {import_id}") as job:
        entry = run_import(import_id)
        job.report(entry.rows_done, entry.rows_total)
        if entry.status == "failed":
            raise RetryLater(entry.error)
        job.result = f"Import {import_id}: {entry.rows_done} of {entry.rows_total} rows."


@shared_task(bind=True, name="imports.movielens")
def import_movielens_folder(self: Task, directory: str) -> None:
    """Import a MovieLens folder that the worker can read, reporting the ratings written."""
    with job_run(self, directory) as job:
        written = 0
        expected: list[int] = []

        def start(total: int) -> None:
            expected.append(total)
            job.report(0, total)

        def advance(rows: int) -> None:
            nonlocal written
            written += rows
            job.report(written, expected[0] if expected else None)

        summary = import_movielens(Path(directory), progress=advance, on_ratings_start=start)
        reset_caches()
        job.result = (
            f"{summary.users_created} users, {summary.movies_created} movies and "
            f"{summary.ratings_created} ratings created."
        )
