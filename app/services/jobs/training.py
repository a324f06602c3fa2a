"""Retraining the recommender's item model, and when it is due.

`train_model` is the one seam between the jobs and the training itself: it stores a new
model version (`model_versions.train_model_version`), which every web worker picks up
within RECOMMENDER_MODEL_CHECK_SECONDS.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services.recommendation.model_versions import (
    interactions_since_current_version,
    train_model_version,
)


@dataclass(frozen=True)
class TrainingSummary:
    version_id: int
    items: int
    users: int
    interactions: int
    seconds: float
    # The interaction watermark the model was trained at (see loading.interaction_watermark).
    watermark: int

    def describe(self) -> str:
        return (
            f"version {self.version_id}: {self.items} items, {self.users} users, "
            f"{self.interactions} interactions in {self.seconds:.2f} s"
        )


def train_model() -> TrainingSummary:
    """Learn the item model from every interaction now and store it as the current version.
    Commits."""
    version = train_model_version()
    return TrainingSummary(
        version_id=version.id,
        items=version.items,
        users=version.users,
        interactions=version.interactions,
        seconds=version.training_seconds,
        watermark=version.interaction_watermark,
    )


def retrain_due(after_interactions: int) -> bool:
    """No version yet, or at least `after_interactions` interactions since the current one."""
    since = interactions_since_current_version()
    return since is None or since >= max(1, after_interactions)
