"""`flask import-history --user ID FILE`: a Letterboxd, IMDb or Trakt export into a user's
library, through the same importer as POST /api/v1/favorites/imports/."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from app.errors import DomainError
from app.models.imports import CONFLICT_POLICIES, IMPORT_SOURCES
from app.services.accounts import get_account
from app.services.imports.importer import import_file

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("import-history")
@click.option("--user", "user_id", type=int, required=True, help="The account's id.")
@click.option("--source", type=click.Choice(IMPORT_SOURCES), help="Detected when omitted.")
@click.option(
    "--on-conflict",
    type=click.Choice(CONFLICT_POLICIES),
    default="keep",
    show_default=True,
    help="What to do with a movie the user already rated.",
)
@click.argument("path", metavar="FILE", type=FILE)
@with_appcontext
def import_history_command(user_id: int, source: str | None, on_conflict: str, path: Path) -> None:
    """Import a history export (Letterboxd ZIP/CSV, IMDb CSV, Trakt JSON) for a user."""
    try:
        get_account(user_id)
        entry = import_file(
            user_id,
            data=path.read_bytes(),
            filename=path.name,
            source=source,
            on_conflict=on_conflict,
        )
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    counts = entry.counts
    click.echo(
        f"Import {entry.id} ({entry.source}): {entry.status}, "
        f"{entry.rows_done} of {entry.rows_total} rows applied.\n"
        f"Rows read {counts['rows_read']}: {counts['matched']} matched, "
        f"{counts['unmatched']} unmatched, {counts['invalid']} invalid.\n"
        f"Library: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['already_present']} already present; "
        f"{counts['movies_added']} movies added to the catalogue."
    )
    for problem in entry.problems:
        click.echo(
            f"{problem['file']} line {problem['line']}: {problem['title']}: {problem['reason']}"
        )
    if entry.status == "failed":
        raise click.ClickException(entry.error)
