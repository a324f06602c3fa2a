"""`flask recommend`: compute and store recommendations from the command line."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from app.errors import NotFound
from app.services import recommender
from app.services.recommendation.batches import (
    MAX_LIMIT,
    BatchOwner,
    GeneratedBatch,
    batch_owners,
    generate_recommendations,
)
from app.tasks.fanout import fan_out_all_users
from app.tasks.runner import broker_configured


@click.command("recommend")
@click.option("--user", "user_id", type=click.IntRange(min=1), help="One user, by id.")
@click.option("--all", "all_users", is_flag=True, help="Every active user.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=None,
    help="Recommendations per user (default: RECOMMENDER_BATCH_SIZE).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "jsonl"]),
    default="table",
    show_default=True,
    help="A readable table, or one JSON object per user and line.",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Train a new item-model version first (alone: only that).",
)
@click.option(
    "--here",
    is_flag=True,
    help="With --all and a broker: compute in this process instead of on the workers.",
)
@with_appcontext
def recommend_command(
    user_id: int | None,
    all_users: bool,
    limit: int | None,
    output_format: str,
    rebuild: bool,
    here: bool,
) -> None:
    """Compute AND store recommendations for --user ID or --all users.

    The same code path as POST /api/v1/recommendations/refresh/: each user's previous
    batch is replaced (one transaction per user), their feedback kept. With --all and
    CELERY_BROKER_URL set (table format), the users are sent to the workers in chunks of
    JOBS_RECOMMEND_CHUNK_SIZE (a Celery group) instead.
    """
    if user_id is not None and all_users:
        raise click.UsageError("Give either --user ID or --all, not both.")
    if user_id is None and not all_users and not rebuild:
        raise click.UsageError("Give --user ID, --all or --rebuild.")
    if rebuild:
        version = recommender.train_model_version()
        click.echo(
            f"Item model version {version.id} trained: {version.items} items, "
            f"{version.users} users, {version.interactions} interactions in "
            f"{version.training_seconds:.2f} s.",
            err=output_format == "jsonl" and (user_id is not None or all_users),
        )
    if user_id is None and not all_users:
        return
    if all_users and not here and output_format == "table" and broker_configured():
        chunk_count, user_count = fan_out_all_users(limit)
        click.echo(f"Queued {user_count} user(s) in {chunk_count} job(s) for the workers.")
        return
    try:
        owners = batch_owners(user_id)
    except NotFound as error:
        raise click.ClickException(error.detail) from None
    total = 0
    for owner in owners:
        batch = generate_recommendations(owner.user_id, limit)
        total += len(batch)
        if output_format == "jsonl":
            click.echo(json.dumps(jsonl_record(owner, batch)))
        else:
            echo_table(owner, batch)
    if output_format == "table":
        click.echo(f"Stored {total} recommendations for {len(owners)} user(s).")


def jsonl_record(owner: BatchOwner, batch: GeneratedBatch) -> dict[str, object]:
    return {
        "user_id": owner.user_id,
        "username": owner.username,
        "recommendations": [
            {
                "movie_id": stored.recommendation.movie_id,
                "tmdb_id": stored.recommendation.movie.tmdb_id,
                "score": round(batch.scores[stored.recommendation.movie_id], 4),
            }
            for stored in batch.recommendations
        ],
    }


def echo_table(owner: BatchOwner, batch: GeneratedBatch) -> None:
    click.echo(f"User {owner.user_id} ({owner.username}): {len(batch)} recommendation(s)")
    if not batch.recommendations:
        return
    click.echo(f"  {'#':>3}  {'Score':>6}  {'Type':<13}  {'TMDb':>8}  Title")
    for rank, stored in enumerate(batch.recommendations, start=1):
        recommendation, movie = stored.recommendation, stored.recommendation.movie
        year = f" ({movie.release_date.year})" if movie.release_date else ""
        click.echo(
            f"  {rank:>3}  {batch.scores[movie.id]:>6.3f}  "
            f"{recommendation.recommendation_type:<13}  {movie.tmdb_id:>8}  {movie.title}{year}"
        )
        click.echo(f"  {'':>3}  {'':>6}  {'':<13}  {'':>8}  {recommendation.explanation}")
