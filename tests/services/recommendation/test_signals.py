"""Per-movie signals: recency and the genre profile."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from app.services.recommendation.signals import build_genre_profile, recency_signal


def test_recency_decays_linearly_over_730_days_and_is_zero_when_unknown_or_future() -> None:
    today = date(2024, 6, 1)
    days = np.array(
        [
            float(today.toordinal()),
            float((today - timedelta(days=365)).toordinal()),
            float((today - timedelta(days=800)).toordinal()),
            float((today + timedelta(days=30)).toordinal()),
            np.nan,
        ]
    )
    assert recency_signal(days, today).tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0, 0.0])


def test_genre_profile_counts_liked_genres_and_the_strongest_is_one() -> None:
    matrix = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=np.float32)
    profile = build_genre_profile(matrix, np.array([0, 1, 2]), np.ones(3))
    assert profile.tolist() == pytest.approx([1.0, 0.5, 0.5])
