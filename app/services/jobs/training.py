"""Retraining the recommender's item model, and when it is due.

`train_model` is the one seam between the jobs and the training itself: today it rebuilds
the item model of the process it runs in (the engine's existing builder); the versioned
training stored in the database takes its place without the jobs changing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.services import recommender
from app.services.jobs.cursors import TRAINED_WATERMARK, move_cursor, read_cursor
from app.services.recommendation.loading import interaction_watermark


@dataclass(frozen=True)
class TrainingSummary:
    items: int
    users: int
    interactions: int
    seconds: float
    # The interaction watermark the model was trained at (see loading.interaction_watermark).
    watermark: int

    def describe(self) -> str:
        return (
            f"{self.items} items, {self.users} users, {self.interactions} interactions "
            f"in {self.seconds:.2f} s"
        )


def current_watermark() -> int:
    """Favorites and ratings added so far, as the engine counts them (two index lookups)."""
    return int(db.session.scalar(select(interaction_watermark())) or 0)


def train_model() -> TrainingSummary:
    """Learn the item model from every interaction now, and remember when. Commits."""
    watermark = current_watermark()
    stats = recommender.rebuild_item_model()
    move_cursor(TRAINED_WATERMARK, str(watermark))
    db.session.commit()
    return TrainingSummary(
        items=stats.items,
        users=stats.users,
        interactions=stats.interactions,
        seconds=stats.seconds,
        watermark=watermark,
    )


def interactions_since_training() -> int | None:
    """Interactions added (or removed) since the last training; None: never trained."""
    trained = read_cursor(TRAINED_WATERMARK)
    if trained is None:
        return None
    return abs(current_watermark() - int(trained))


def retrain_due(after_interactions: int) -> bool:
    """Never trained, or at least `after_interactions` interactions since the last training."""
    since = interactions_since_training()
    return since is None or since >= max(1, after_interactions)
