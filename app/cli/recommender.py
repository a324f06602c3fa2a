"""`flask recommender train | versions | activate ID | evaluate DIR | tune | tuned`: the
engine's model versions, its self-tuning and offline tools."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.errors import NotFound
from app.models import ItemModelVersion, TunedConfiguration
from app.services import tuning
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
    """Offline evaluation on a MovieLens folder: the engine (default, and tuned when a tuned
    configuration exists), popularity and the original."""
    try:
        weights = Weights.from_config(current_app.config)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    tuned = tuning.current_engine_configuration()
    try:
        results = evaluate(directory, weights, k=k, tuned=tuned)
    except MovieLensFormatError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Weights: genre {weights.genre}, quality {weights.quality}, popularity "
        f"{weights.popularity}, recency {weights.recency}, collaborative {weights.collaborative}"
    )
    if tuned is not None:
        click.echo(f"Tuned: {tuned.describe()}")
    click.echo(format_table(results, k))


@recommender_group.command("tune")
@click.argument("directory", type=DIRECTORY, required=False)
@click.option(
    "--budget",
    "budget",
    type=click.FloatRange(min=1, max=24 * 3600),
    default=None,
    help="Seconds the search may take (default: RECOMMENDER_TUNE_BUDGET_SECONDS).",
)
@click.option(
    "--min-coverage",
    "min_coverage",
    type=click.FloatRange(0, 1),
    default=None,
    help="Least coverage@10 on validation (default: RECOMMENDER_TUNE_MIN_COVERAGE).",
)
@with_appcontext
def tune_command(directory: Path | None, budget: float | None, min_coverage: float | None) -> None:
    """Choose the engine's configuration on a temporal validation split and record it.

    Without DIRECTORY: this deployment's interactions. With a MovieLens folder: only its
    training part (the test part of `flask recommender evaluate` is dropped on reading).
    """
    budget = budget or float(current_app.config["RECOMMENDER_TUNE_BUDGET_SECONDS"])
    if min_coverage is None:
        min_coverage = float(current_app.config["RECOMMENDER_TUNE_MIN_COVERAGE"])
    try:
        if directory is None:
            record = tuning.tune_deployment(budget, min_coverage)
        else:
            record = tuning.tune_movielens(directory, budget, min_coverage)
    except (MovieLensFormatError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(describe_record(record))


@recommender_group.command("tuned")
@with_appcontext
def tuned_command() -> None:
    """The configuration training uses: the latest tuning run's, with its figures."""
    record = tuning.current_tuned_configuration()
    if record is None:
        click.echo("No tuned configuration: the engine uses its defaults.")
        return
    click.echo(describe_record(record))


def describe_record(record: TunedConfiguration) -> str:
    lines = [
        f"Tuned configuration #{record.id} ({record.source}, {record.created_at:%Y-%m-%d %H:%M} "
        f"UTC; {record.candidates} candidates in {record.seconds:.0f} s of "
        f"{record.budget_seconds:.0f}; {record.validation_users} validation users)",
        f"Chosen: {record.description}",
        "Validation  | NDCG@10 | Coverage@10",
        f"tuned       | {record.validation_ndcg:.4f}  | {record.validation_coverage:.4f}",
        f"defaults    | {record.default_ndcg:.4f}  | {record.default_coverage:.4f}",
        "Best of each model family on validation:",
    ]
    for family, figures in sorted(record.families.items()):
        lines.append(
            f"  {family:8} NDCG@10 {figures['ndcg']:.4f}, coverage@10 {figures['coverage']:.4f}: "
            f"{figures['description']}"
        )
    return "\n".join(lines)
