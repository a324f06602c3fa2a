"""What a user may narrow their recommendations to: genres, years, runtime, language, type,
and whether what they watched or plan to watch may appear. Applied to the candidates before
ranking and truncation, so a filtered list is as long as the candidates allow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.services.recommendation.catalogue_arrays import Catalogue


@dataclass(frozen=True)
class RecommendationFilters:
    """Each field narrows the list; the defaults narrow nothing beyond the usual exclusions.

    A movie whose year or runtime is unknown does not pass a year or runtime filter.
    """

    genres: tuple[int, ...] = ()  # TMDb genre ids: a movie with any of them passes
    year_min: int | None = None
    year_max: int | None = None
    runtime_max: int | None = None  # minutes
    language: str | None = None  # ISO 639-1 code of the original language
    recommendation_type: str | None = None
    exclude_watched: bool = True
    exclude_watchlisted: bool = True

    @property
    def narrows(self) -> bool:
        """Whether the list differs from the user's stored batch."""
        return self != RecommendationFilters()


def filter_mask(catalogue: Catalogue, filters: RecommendationFilters) -> np.ndarray:
    """The catalogue positions that pass the genre, year, runtime and language filters."""
    mask = np.ones(catalogue.size, dtype=bool)
    if filters.genres:
        mask &= genres_mask(catalogue, filters.genres)
    with np.errstate(invalid="ignore"):  # NaN (unknown) compares False: filtered out
        if filters.year_min is not None:
            mask &= catalogue.release_year >= filters.year_min
        if filters.year_max is not None:
            mask &= catalogue.release_year <= filters.year_max
        if filters.runtime_max is not None:
            mask &= catalogue.runtime <= filters.runtime_max
    if filters.language is not None:
        mask &= catalogue.languages == filters.language.lower()
    return mask


def genres_mask(catalogue: Catalogue, genre_tmdb_ids: Sequence[int]) -> np.ndarray:
    columns = np.flatnonzero(np.isin(catalogue.genre_tmdb_ids, list(genre_tmdb_ids)))
    if columns.size == 0:
        return np.zeros(catalogue.size, dtype=bool)
    return np.asarray(catalogue.genre_matrix[:, columns].any(axis=1), dtype=bool)
