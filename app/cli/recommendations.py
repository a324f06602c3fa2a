"""`flask recommend`: compute and store recommendations from the command line."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services import recommender
from app.services.recommendation.batches import (
    MAX_LIMIT,
    MovieLabel,
    movie_labels,
    store_recommendations,
)
from app.services.recommendation.ranking import RecommendedMovie


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
    "--rebuild", is_flag=True, help="Rebuild the learned item model first (alone: only that)."
)
@with_appcontext
def recommend_command(
    user_id: int | None,
    all_users: bool,
    limit: int | None,
    output_format: str,
    rebuild: bool,
) -> None:
    """Compute AND store recommendations for --user ID or --all users.

    The same code path as POST /api/v1/recommendations/refresh/: each user's previous
    batch is replaced (one transaction per user), their feedback kept.
    """
    if user_id is not None and all_users:
        raise click.UsageError("Give either --user ID or --all, not both.")
    if user_id is None and not all_users and not rebuild:
        raise click.UsageError("Give --user ID, --all or --rebuild.")
    if rebuild:
        stats = recommender.rebuild_item_model()
        click.echo(
            f"Item model rebuilt: {stats.items} items, {stats.users} users, "
            f"{stats.interactions} interactions in {stats.seconds:.2f} s.",
            err=output_format == "jsonl" and (user_id is not None or all_users),
        )
    if user_id is not None:
        users = db.session.execute(
            select(User.id, User.username).where(User.id == user_id, User.deleted_at.is_(None))
        ).all()
        if not users:
            raise click.ClickException(f"User {user_id} does not exist.")
    elif all_users:
        users = db.session.execute(
            select(User.id, User.username)
            .where(User.is_active.is_(True), User.deleted_at.is_(None))
            .order_by(User.id)
        ).all()
    else:
        return
    total = 0
    for uid, username in users:
        results = store_recommendations(uid, limit)
        labels = movie_labels([result.movie_id for result in results])
        total += len(results)
        if output_format == "jsonl":
            click.echo(json.dumps(jsonl_record(uid, username, results, labels)))
        else:
            echo_table(uid, username, results, labels)
    if output_format == "table":
        click.echo(f"Stored {total} recommendations for {len(users)} user(s).")


def jsonl_record(
    user_id: int,
    username: str,
    results: list[RecommendedMovie],
    labels: dict[int, MovieLabel],
) -> dict[str, object]:
    return {
        "user_id": user_id,
        "username": username,
        "recommendations": [
            {
                "movie_id": result.movie_id,
                "tmdb_id": labels[result.movie_id].tmdb_id,
                "score": round(result.score, 4),
            }
            for result in results
        ],
    }


def echo_table(
    user_id: int,
    username: str,
    results: list[RecommendedMovie],
    labels: dict[int, MovieLabel],
) -> None:
    click.echo(f"User {user_id} ({username}): {len(results)} recommendation(s)")
    if not results:
        return
    click.echo(f"  {'#':>3}  {'Score':>6}  {'Type':<13}  {'TMDb':>8}  Title")
    for rank, result in enumerate(results, start=1):
        label = labels[result.movie_id]
        year = f" ({label.release_date.year})" if label.release_date else ""
        click.echo(
            f"  {rank:>3}  {result.score:>6.3f}  {result.recommendation_type:<13}  "
            f"{label.tmdb_id:>8}  {label.title}{year}"
        )
        click.echo(f"  {'':>3}  {'':>6}  {'':<13}  {'':>8}  {result.explanation}")
