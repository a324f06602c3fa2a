"""`flask recommender train | versions | activate ID | evaluate DIR`: the engine's model
versions and offline tools."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.errors import NotFound
from app.models import ItemModelVersion
from app.services.recommendation.evaluation import evaluate, format_table
from app.services.recommendation.model_versions import (
    activate_version,
    current_version_id,
    list_versions,
    train_model_version,
    training_due,
)
from app.services.recommendation.movielens import MovieLensFormatError
from app.services.recommendation.scoring import Weights

DIRECTORY = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)


@click.group("recommender")
def recommender_group() -> None:
    """The recommendation engine's model versions and offline tools."""


@recommender_group.command("train")
@click.option(
    "--if-due",
    is_flag=True,
    help="Only when no version exists or RECOMMENDER_REBUILD_AFTER interactions arrived since.",
)
@with_appcontext
def train_command(if_due: bool) -> None:
    """Learn the item model and store it as a new current version (web workers load it)."""
    if if_due and not training_due():
        click.echo("No training due: the current version is recent enough.")
        return
    version = train_model_version()
    click.echo(f"Trained model version {version.id}: {describe(version)}")


@recommender_group.command("versions")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@with_appcontext
def versions_command(limit: int) -> None:
    """The stored model versions, newest first; * marks the current one."""
    versions = list_versions(limit)
    if not versions:
        click.echo("No model version yet: run `flask recommender train`.")
        return
    current = current_version_id()
    for version in versions:
        marker = "*" if version.id == current else " "
        click.echo(f"{marker} {version.id:>5}  {describe(version)}")


@recommender_group.command("activate")
@click.argument("version_id", type=click.IntRange(min=1))
@with_appcontext
def activate_command(version_id: int) -> None:
    """Make a stored version current again (a rollback); versions never change."""
    try:
        activate_version(version_id)
    except NotFound as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"Model version {version_id} is now current.")


def describe(version: ItemModelVersion) -> str:
    ndcg = "n/a" if version.ndcg_at_10 is None else f"{version.ndcg_at_10:.4f}"
    coverage = "n/a" if version.coverage_at_10 is None else f"{version.coverage_at_10:.4f}"
    return (
        f"{version.trained_at:%Y-%m-%d %H:%M:%S} UTC, {version.algorithm}, "
        f"{version.items} items, {version.users} users, {version.interactions} interactions, "
        f"{version.training_seconds:.2f} s, NDCG@10 {ndcg}, coverage@10 {coverage} "
        f"({version.validation_users} users), {version.weights_bytes / 1024:.0f} KiB"
    )


@recommender_group.command("evaluate")
@click.argument("directory", type=DIRECTORY)
@click.option(
    "--k",
    "k",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Cut-off of NDCG, HitRate and coverage (Recall is at 20).",
)
@with_appcontext
def evaluate_command(directory: Path, k: int) -> None:
    """Offline evaluation on a MovieLens folder: the engine, popularity and the original."""
    try:
        weights = Weights.from_config(current_app.config)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    try:
        results = evaluate(directory, weights, k=k)
    except MovieLensFormatError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Weights: genre {weights.genre}, quality {weights.quality}, popularity "
        f"{weights.popularity}, recency {weights.recency}, collaborative {weights.collaborative}"
    )
    click.echo(format_table(results, k))
