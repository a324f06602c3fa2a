"""`flask recommender evaluate DIR [--k 10]`: the engine's offline tools."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.services.recommendation.evaluation import evaluate, format_table
from app.services.recommendation.movielens import MovieLensFormatError
from app.services.recommendation.scoring import Weights

DIRECTORY = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)


@click.group("recommender")
def recommender_group() -> None:
    """The recommendation engine's offline tools."""


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
