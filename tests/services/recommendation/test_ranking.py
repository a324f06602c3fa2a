"""Ranking and diversity, and the engine end to end on arrays."""

from __future__ import annotations

from datetime import date

import numpy as np

from app.services.recommendation.catalogue_arrays import build_catalogue
from app.services.recommendation.ranking import diversify, rank_for_user
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import UserSignals


def test_diversify_holds_back_a_fourth_same_genre_movie_until_the_run_is_broken() -> None:
    top_genre = np.array([0, 0, 0, 0, 0, 1, -1])
    assert diversify([0, 1, 2, 3, 4, 5, 6], top_genre, limit=7) == [0, 1, 2, 5, 3, 4, 6]


def test_diversify_stops_short_rather_than_break_the_rule() -> None:
    assert diversify([0, 1, 2, 3, 4], np.zeros(5, dtype=np.int64), limit=5) == [0, 1, 2]


def test_the_diversity_walk_reaches_past_the_sorted_window_before_taking_padding() -> None:
    # 600 liked-genre films, then one film sharing a liked film's second genre far down the
    # ranking, then unrelated padding: the fourth result must be that personal film.
    count = 700
    movie_ids = np.arange(1, count + 1)
    links = [(int(m), 1) for m in movie_ids[:600]]  # genre 1: "Action"
    links += [(601, 2)]  # genre 2: "Drama", weaker in the profile
    links += [(int(m), 3) for m in movie_ids[601:]]  # genre 3: "Western", never liked
    links += [(700, 1), (700, 2)]  # the liked film
    catalogue = build_catalogue(
        movie_ids=movie_ids,
        tmdb_ids=movie_ids,
        titles=[f"Film {m}" for m in movie_ids],
        genre_links=links,
        genre_tmdb_ids=[1, 2, 3],
        genre_names=["Action", "Drama", "Western"],
        vote_average=np.full(count, 7.0),
        vote_count=np.full(count, 100),
        popularity=np.linspace(100, 1, count),
        release_dates=[None] * count,
    )
    liked = catalogue.positions([700])
    user = UserSignals(
        liked=liked,
        liked_weight=np.ones(1),
        excluded=liked,
        favorite_genres=np.empty(0, dtype=np.int64),
    )
    weights = Weights(genre=1.0, quality=0.0, popularity=0.1, recency=0.0, collaborative=0.0)
    results = rank_for_user(catalogue, user, weights, date(2024, 1, 1), limit=5).results
    assert [r.movie_id for r in results] == [1, 2, 3, 601, 4]
    assert results[3].recommendation_type == "content_based"


def test_released_only_leaves_out_films_released_after_today() -> None:
    # Three films, the most popular one out next year; the unknown date stays a candidate.
    ids = np.array([1, 2, 3])
    catalogue = build_catalogue(
        movie_ids=ids,
        tmdb_ids=ids,
        titles=["Out", "Coming", "Undated"],
        genre_links=[],
        genre_tmdb_ids=[],
        genre_names=[],
        vote_average=np.full(3, 7.0),
        vote_count=np.full(3, 100),
        popularity=np.array([10.0, 100.0, 1.0]),
        release_dates=[date(2020, 1, 1), date(2025, 1, 1), None],
    )
    cold = UserSignals(
        liked=np.empty(0, dtype=np.int64),
        liked_weight=np.empty(0),
        excluded=np.empty(0, dtype=np.int64),
        favorite_genres=np.empty(0, dtype=np.int64),
    )
    weights = Weights(genre=0.0, quality=0.0, popularity=1.0, recency=0.0, collaborative=0.0)
    today = date(2024, 6, 1)
    every = rank_for_user(catalogue, cold, weights, today, limit=3).results
    released = rank_for_user(catalogue, cold, weights, today, limit=3, released_only=True).results
    assert [r.movie_id for r in every] == [2, 1, 3]
    assert [r.movie_id for r in released] == [1, 3]
