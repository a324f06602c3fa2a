"""The catalogue's own signals: quality shrunk toward the mean, popularity log-scaled."""

from __future__ import annotations

import numpy as np

from app.services.recommendation.catalogue_arrays import popularity_signal, quality_signal


def test_quality_pulls_a_perfect_score_from_three_votes_below_a_well_voted_eight() -> None:
    quality = quality_signal(np.array([10.0, 8.0, 6.0, 7.0]), np.array([3, 5000, 4000, 3000]))
    assert quality[0] < quality[1]
    assert quality.min() >= 0 and quality.max() <= 1


def test_popularity_is_log_scaled_and_capped_at_one() -> None:
    signal = popularity_signal(np.array([0.0, 10.0, 100.0, 1000.0, 1_000_000.0]))
    assert signal[0] == 0
    assert np.all(np.diff(signal) >= 0) and signal.max() == 1.0
    # Log scale: ten times the popularity is far less than ten times the signal.
    assert signal[2] < 2 * signal[1]
