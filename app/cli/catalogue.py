"""`flask sync-tmdb`: fill the local catalogue from TMDb."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.services.catalogue import (
    SYNC_LISTS,
    SyncSummary,
    fetch_missing_details,
    movies_missing_details_count,
    sync_catalogue,
)


@click.command("sync-tmdb")
@click.option(
    "--pages",
    type=click.IntRange(1, 500),
    default=5,
    show_default=True,
    help="Pages (20 movies each) of every list: trending day, popular, top rated, trending week.",
)
@click.option(
    "--sleep",
    type=click.FloatRange(0, 60),
    default=0.25,
    show_default=True,
    help="Pause between TMDb calls, in seconds.",
)
@click.option(
    "--details",
    is_flag=True,
    help="Also fetch full details (runtime, budget, ...) of local movies that lack them.",
)
@with_appcontext
def sync_tmdb_command(pages: int, sleep: float, details: bool) -> None:
    """Sync genres, then PAGES pages of each TMDb list, one transaction per page.

    Running it twice is harmless. When TMDb fails, the pages already saved stay saved and
    the command exits with status 1. A movie TMDb has no record of (404) is not a failure:
    it is recorded as unknown to TMDb and not asked for again.
    """
    summary = SyncSummary()
    with click.progressbar(length=1 + pages * len(SYNC_LISTS), label="Syncing lists") as bar:
        sync_catalogue(pages, sleep=sleep, on_progress=bar.update, summary=summary)
    if details and summary.aborted is None:
        missing = movies_missing_details_count()
        with click.progressbar(length=missing, label="Fetching details") as bar:
            fetch_missing_details(sleep=sleep, on_progress=bar.update, summary=summary)
    click.echo(
        f"Genres synced: {summary.genres_synced}. Records upserted: {summary.records_upserted}. "
        f"Unique movies: {summary.unique_movies}. "
        + (
            f"Details fetched: {summary.details_fetched}. "
            f"Unknown to TMDb (recorded, not asked again): {summary.unknown_to_tmdb}. "
            if details
            else ""
        )
        + f"Failures: {summary.failures}."
    )
    for message in summary.messages:
        click.echo(f"Failed: {message}", err=True)
    if summary.aborted is not None:
        raise click.ClickException(
            f"Stopped early because TMDb failed ({summary.aborted}). "
            "Pages already saved are kept; run the command again to resume."
        )
    if summary.failures:
        raise click.ClickException(f"{summary.failures} request(s) failed; see above.")
