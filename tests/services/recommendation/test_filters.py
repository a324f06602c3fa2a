"""Filters select catalogue positions; unknown years and runtimes never pass a bound, and
watched or watchlisted films are candidates only when the user asks for them."""

from __future__ import annotations

from datetime import date

import numpy as np

from app.services.recommendation.catalogue_arrays import build_catalogue
from app.services.recommendation.filters import RecommendationFilters, filter_mask
from app.services.recommendation.signals import (
    FAVORITE,
    WATCHED,
    WATCHLISTED,
    candidate_mask,
    user_signals_from_rows,
)

CATALOGUE = build_catalogue(
    movie_ids=[1, 2, 3, 4],
    tmdb_ids=[11, 12, 13, 14],
    titles=["A", "B", "C", "D"],
    genre_links=[(1, 28), (2, 35), (3, 28), (3, 35)],
    genre_tmdb_ids=[28, 35, 99],
    genre_names=["Action", "Comedy", "Documentary"],
    vote_average=[7.0] * 4,
    vote_count=[100] * 4,
    popularity=[10.0] * 4,
    release_dates=[date(1995, 1, 1), date(2005, 1, 1), None, date(2020, 1, 1)],
    runtimes=[90, 140, 100, None],
    languages=["en", "KO", "en", None],
)


def passing(**fields: object) -> list[int]:
    mask = filter_mask(CATALOGUE, RecommendationFilters(**fields))  # type: ignore[arg-type]
    return [int(m) for m in CATALOGUE.movie_ids[mask]]


def test_each_filter_keeps_what_passes_and_unknown_values_never_pass_a_bound() -> None:
    assert passing() == [1, 2, 3, 4]
    assert passing(genres=(28,)) == [1, 3]
    assert passing(genres=(35, 28)) == [1, 2, 3]  # any of them
    assert passing(genres=(99,)) == [] and passing(genres=(12345,)) == []
    assert passing(year_min=2000) == [2, 4]  # 3 has no date
    assert passing(year_max=2005) == [1, 2]
    assert passing(year_min=2000, year_max=2010) == [2]
    assert passing(runtime_max=100) == [1, 3]  # 4 has no runtime
    assert passing(language="ko") == [2] and passing(language="EN") == [1, 3]


def test_only_a_non_default_filter_narrows_the_list() -> None:
    assert not RecommendationFilters().narrows
    assert RecommendationFilters(exclude_watched=False).narrows
    assert RecommendationFilters(recommendation_type="trending").narrows


def test_watched_and_watchlisted_films_are_candidates_only_when_asked_for() -> None:
    rows = [(FAVORITE, 1, 0), (WATCHED, 2, 0), (WATCHLISTED, 3, 0)]
    user = user_signals_from_rows(CATALOGUE, rows)

    def candidates(**flags: bool) -> list[int]:
        return [int(m) for m in CATALOGUE.movie_ids[candidate_mask(CATALOGUE, user, **flags)]]

    assert candidates() == [4]
    assert candidates(exclude_watched=False) == [2, 4]
    assert candidates(exclude_watchlisted=False) == [3, 4]
    assert candidates(exclude_watched=False, exclude_watchlisted=False) == [2, 3, 4]
    assert np.array_equal(user.excluded, CATALOGUE.positions([1]))  # the favourite, always
