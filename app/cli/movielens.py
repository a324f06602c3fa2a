"""`flask import-movielens DIR`: a MovieLens "latest" folder into the database."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from app.errors import DomainError
from app.services.recommendation.movielens import MovieLensFormatError
from app.services.recommendation.movielens_import import import_movielens
from app.services.recommender import reset_caches
from app.tasks.imports import import_movielens_folder
from app.tasks.runner import broker_configured, enqueue

DIRECTORY = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)


@click.command("import-movielens")
@click.argument("directory", type=DIRECTORY)
@click.option(
    "--queue",
    is_flag=True,
    help="Hand it to the workers as a job (needs CELERY_BROKER_URL and a worker that can "
    "read DIRECTORY); `flask jobs recent` and the admin's Jobs page show its progress.",
)
@with_appcontext
def import_movielens_command(directory: Path, queue: bool) -> None:
    """Import a MovieLens "latest" folder (ratings.csv, movies.csv, links.csv); idempotent."""
    if queue:
        if not broker_configured():
            raise click.UsageError("--queue needs CELERY_BROKER_URL (a broker and a worker).")
        folder = str(directory.resolve())
        job_id = enqueue(import_movielens_folder, folder, summary=folder)
        click.echo(f"Queued the import of {folder}: job {job_id}.")
        return
    with ExitStack() as stack:
        bars: list[Any] = []

        def start(total: int) -> None:
            bar = click.progressbar(length=total, label="Ratings", file=sys.stderr)
            bars.append(stack.enter_context(bar))

        def advance(rows: int) -> None:
            for bar in bars:
                bar.update(rows)

        try:
            summary = import_movielens(directory, progress=advance, on_ratings_start=start)
        except MovieLensFormatError as error:
            raise click.ClickException(str(error)) from None
        except DomainError as error:
            raise click.ClickException(error.detail) from None
    reset_caches()
    click.echo(
        f"Users: {summary.users_created} created, {summary.users_existing} already present.\n"
        f"Movies: {summary.movies_created} created, {summary.movies_existing} already in the "
        f"catalogue, {summary.movies_without_tmdb_id} without a tmdbId skipped.\n"
        f"Genres: {summary.genres_created} created.\n"
        f"Ratings: {summary.ratings_created} created, {summary.ratings_existing} already "
        f"present, {summary.ratings_skipped} skipped (movie without a tmdbId)."
    )
    if summary.movies_created:
        click.echo("Run `flask sync-tmdb --details` to complete the new movies from TMDb.")
