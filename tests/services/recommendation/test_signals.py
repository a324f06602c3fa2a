"""Per-movie signals: recency and the genre profile."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from app.services.recommendation.catalogue_arrays import build_catalogue
from app.services.recommendation.signals import (
    FAVORITE,
    RATING,
    build_genre_profile,
    graded_liking,
    recency_signal,
    user_signals_from_rows,
)


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


def test_graded_seeds_weigh_a_liked_rating_by_its_value_and_a_favourite_fully() -> None:
    ids = list(range(1, 5))
    catalogue = build_catalogue(
        movie_ids=ids,
        tmdb_ids=ids,
        titles=[f"Film {i}" for i in ids],
        genre_links=[],
        genre_tmdb_ids=[],
        genre_names=[],
        vote_average=np.zeros(4),
        vote_count=np.zeros(4, dtype=np.int64),
        popularity=np.zeros(4),
        release_dates=[None] * 4,
    )
    # Film 1 rated 10, film 2 rated 7, film 3 favourited and rated 7, film 4 rated 5.
    rows = [(RATING, 1, 10), (RATING, 2, 7), (FAVORITE, 3, 0), (RATING, 3, 7), (RATING, 4, 5)]
    equal = user_signals_from_rows(catalogue, rows)
    graded = user_signals_from_rows(catalogue, rows, graded=True)
    movies = catalogue.movie_ids[graded.liked].tolist()
    weight = dict(zip(movies, graded.liked_weight.tolist(), strict=True))
    assert weight == {1: 1.0, 2: 0.5, 3: 1.0}
    assert equal.liked_weight.tolist() == [1.0, 1.0, 1.0]
    assert sorted(catalogue.movie_ids[graded.excluded].tolist()) == [1, 2, 3, 4]
    assert graded_liking(8.5) == pytest.approx(0.75)
