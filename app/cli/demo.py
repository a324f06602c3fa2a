"""`flask seed-demo`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.services.demo import COMMUNITY_SIZE, DEMO_EMAIL, DEMO_PASSWORD, seed_demo


@click.command("seed-demo")
@click.option(
    "--reset",
    is_flag=True,
    help="Delete the demo user and the demo community first, then build them again.",
)
@with_appcontext
def seed_demo_command(reset: bool) -> None:
    """Load the demo catalogue, the demo user and a synthetic community (idempotent)."""
    summary = seed_demo(reset=reset)
    click.echo(f"Genres: {summary.genres}. Movies: {summary.movies}.")
    click.echo(
        f"Demo community: {COMMUNITY_SIZE} synthetic users demo-community-NN@example.invalid "
        f"({summary.community_users_created} created, "
        f"{summary.interactions_created} favourites and ratings added)."
    )
    if summary.user_created:
        click.echo(f"Demo user created: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    else:
        click.echo(f"Demo user already present: {DEMO_EMAIL} / {DEMO_PASSWORD}")
