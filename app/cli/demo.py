"""`flask seed-demo`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the built-in demo catalogue and demo user (idempotent)."""
    summary = seed_demo()
    click.echo(f"Genres: {summary.genres}. Movies: {summary.movies}.")
    if summary.user_created:
        click.echo(f"Demo user created: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    else:
        click.echo(f"Demo user already present: {DEMO_EMAIL}")
