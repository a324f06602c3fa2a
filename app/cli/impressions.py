"""`flask prune-impressions`: delete recommendation impressions past their retention."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.services.recommendation_impressions import prune_impressions


@click.command("prune-impressions")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Keep this many days (default: RECOMMENDATION_IMPRESSION_RETENTION_DAYS).",
)
@with_appcontext
def prune_impressions_command(days: int | None) -> None:
    """Delete impressions older than the retention, with their outcomes (run it daily)."""
    removed = prune_impressions(days)
    click.echo(f"Removed {removed} impression(s).")
