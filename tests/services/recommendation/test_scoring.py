"""The weights of the score."""

from __future__ import annotations

import pytest

from app.services.recommendation.scoring import Weights


def test_weights_must_be_non_negative_and_not_all_zero() -> None:
    with pytest.raises(ValueError):
        Weights(genre=-0.1, quality=0.2, popularity=0.2, recency=0.1, collaborative=0.1)
    with pytest.raises(ValueError):
        Weights(genre=0, quality=0, popularity=0, recency=0, collaborative=0)
