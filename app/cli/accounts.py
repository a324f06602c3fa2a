"""`flask prune-tokens` and `flask create-superuser`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.errors import Conflict, ValidationFailed
from app.services.accounts import create_superuser
from app.services.tokens import prune_expired_tokens


@click.command("prune-tokens")
@with_appcontext
def prune_tokens_command() -> None:
    """Delete blocklist rows of tokens that have expired anyway."""
    removed = prune_expired_tokens()
    click.echo(f"Removed {removed} expired blocklist row(s).")


@click.command("create-superuser")
@click.option("--email", required=True, help="Login email (stored lower-cased).")
@click.option("--username", required=True, help="3 to 150 letters, digits and @ . + - _")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted (with confirmation) when not given; avoid passing it on the command line.",
)
@with_appcontext
def create_superuser_command(email: str, username: str, password: str) -> None:
    """Create an active staff and superuser account."""
    try:
        user = create_superuser(email=email, username=username, password=password)
    except (ValidationFailed, Conflict) as error:
        messages = [
            f"{field}: {message}"
            for field, field_messages in (error.errors or {}).items()
            for message in field_messages
        ]
        raise click.ClickException(" ".join([error.detail, *messages])) from None
    click.echo(f"Superuser {user.username} <{user.email}> created (id {user.id}).")
