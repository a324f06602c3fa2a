"""The score: a weighted sum of the 0..1 signals; and the score of the padding films."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.services.recommendation.signals import Signals


@dataclass(frozen=True)
class Weights:
    """How much each 0..1 signal counts; scores are sums of weight x signal."""

    genre: float
    quality: float
    popularity: float
    recency: float
    collaborative: float

    def __post_init__(self) -> None:
        values = (self.genre, self.quality, self.popularity, self.recency, self.collaborative)
        if any(not np.isfinite(value) or value < 0 for value in values):
            raise ValueError(f"recommender weights must be finite and >= 0, got {values}")
        if sum(values) <= 0:
            raise ValueError("at least one recommender weight must be positive")

    @property
    def total(self) -> float:
        return self.genre + self.quality + self.popularity + self.recency + self.collaborative

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Weights:
        return cls(
            genre=float(config["RECOMMENDER_WEIGHT_GENRE"]),
            quality=float(config["RECOMMENDER_WEIGHT_QUALITY"]),
            popularity=float(config["RECOMMENDER_WEIGHT_POPULARITY"]),
            recency=float(config["RECOMMENDER_WEIGHT_RECENCY"]),
            collaborative=float(config["RECOMMENDER_WEIGHT_COLLABORATIVE"]),
        )


def score_candidates(signals: Signals, weights: Weights) -> np.ndarray:
    """The engine's score: the weighted sum of the signals (0..weights.total)."""
    return (
        weights.genre * signals.genre
        + weights.quality * signals.quality
        + weights.popularity * signals.popularity
        + weights.recency * signals.recency
        + weights.collaborative * signals.collaborative
    )


def padding_scores(signals: Signals, weights: Weights) -> np.ndarray:
    """Popular and well-rated, in the proportion of their weights (equal if both are 0)."""
    quality, popularity = weights.quality, weights.popularity
    if quality + popularity <= 0:
        quality = popularity = 1.0
    return (quality * signals.quality + popularity * signals.popularity) / (quality + popularity)
