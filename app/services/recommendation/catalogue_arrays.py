"""Every recommendable movie as parallel numpy arrays, and the per-movie signals that depend
only on the catalogue (quality, popularity, each movie's top genre)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

# Popularity is log-scaled and capped at this percentile of the catalogue.
POPULARITY_CAP_PERCENTILE = 99.0

# Catalogue versions, so caches derived from one catalogue know when it was replaced.
_catalogue_versions = itertools.count(1)


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Every recommendable movie as parallel arrays, sorted by movie id (position = index)."""

    movie_ids: np.ndarray  # int64
    tmdb_ids: np.ndarray  # int64
    titles: list[str]
    genre_matrix: np.ndarray  # float32, movies x genres, 1 where the movie has the genre
    genre_tmdb_ids: np.ndarray  # int64
    genre_names: list[str]
    top_genre: np.ndarray  # int64 genre position: the movie's first genre by name, -1 for none
    vote_average: np.ndarray
    vote_count: np.ndarray
    popularity: np.ndarray
    release_day: np.ndarray  # float64 proleptic ordinal of the release date, NaN when unknown
    release_year: np.ndarray  # float64, NaN when unknown
    runtime: np.ndarray  # float64 minutes, NaN when unknown
    languages: np.ndarray  # str: the original language's ISO 639-1 code, lower case ("" unknown)
    adult: np.ndarray  # bool
    quality: np.ndarray  # 0..1 signal, vote average shrunk toward the catalogue mean
    popularity_signal: np.ndarray  # 0..1 signal, log-scaled and capped
    version: int = field(default_factory=lambda: next(_catalogue_versions))

    @property
    def size(self) -> int:
        return int(self.movie_ids.size)

    def positions(self, movie_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Catalogue positions of `movie_ids`, -1 for movies not in the catalogue."""
        wanted = np.asarray(movie_ids, dtype=np.int64)
        if self.size == 0 or wanted.size == 0:
            return np.full(wanted.shape, -1, dtype=np.int64)
        found = np.searchsorted(self.movie_ids, wanted).clip(0, self.size - 1)
        return np.where(self.movie_ids[found] == wanted, found, -1)


def quality_signal(vote_average: np.ndarray, vote_count: np.ndarray) -> np.ndarray:
    """Bayesian average of the vote, rescaled to 0..1 between the 5th and 95th percentiles.

    Films with few votes are pulled toward the vote-weighted catalogue mean, by a prior worth
    the median vote count: a 10/10 from 3 votes stays close to the mean.
    """
    average = np.asarray(vote_average, dtype=np.float64)
    count = np.asarray(vote_count, dtype=np.float64).clip(min=0)
    voted = count > 0
    if not voted.any():
        return np.full(average.shape, 0.5)
    mean = float(np.sum(average[voted] * count[voted]) / np.sum(count[voted]))
    prior = max(float(np.median(count[voted])), 1.0)
    shrunk = (count * average + prior * mean) / (count + prior)
    low, high = np.percentile(shrunk[voted], [5.0, 95.0])
    if high - low < 1e-9:
        return np.full(average.shape, 0.5)
    return np.clip((shrunk - low) / (high - low), 0.0, 1.0)


def popularity_signal(popularity: np.ndarray) -> np.ndarray:
    """log(1 + popularity), divided by its value at the catalogue's 99th percentile, capped at 1."""
    values = np.asarray(popularity, dtype=np.float64).clip(min=0)
    if values.size == 0:
        return values
    cap = float(np.log1p(np.percentile(values, POPULARITY_CAP_PERCENTILE)))
    if cap <= 0:
        return np.zeros(values.shape)
    return np.minimum(np.log1p(values) / cap, 1.0)


def top_genres(genre_matrix: np.ndarray, genre_names: Sequence[str]) -> np.ndarray:
    """Each movie's first genre by name (the diversity rule's "top genre"), -1 for none."""
    if genre_matrix.shape[1] == 0:
        return np.full(genre_matrix.shape[0], -1, dtype=np.int64)
    by_name = np.argsort(np.array([name.casefold() for name in genre_names]), kind="stable")
    rank = np.empty(len(genre_names), dtype=np.int64)
    rank[by_name] = np.arange(len(genre_names))
    ranked = np.where(genre_matrix > 0, rank[None, :], len(genre_names))
    first = ranked.min(axis=1)
    return np.where(first < len(genre_names), by_name[first.clip(max=len(genre_names) - 1)], -1)


def float_column(values: Sequence[float | None], order: np.ndarray) -> np.ndarray:
    """`values` as floats in catalogue `order`, NaN where unknown (None); empty for none."""
    if not len(values):
        return np.empty(0)
    known = [np.nan if value is None else float(value) for value in values]
    return np.array(known, dtype=np.float64)[order]


def build_catalogue(
    *,
    movie_ids: Sequence[int] | np.ndarray,
    tmdb_ids: Sequence[int] | np.ndarray,
    titles: Sequence[str],
    genre_links: Sequence[tuple[int, int]],
    genre_tmdb_ids: Sequence[int],
    genre_names: Sequence[str],
    vote_average: Sequence[float] | np.ndarray,
    vote_count: Sequence[int] | np.ndarray,
    popularity: Sequence[float] | np.ndarray,
    release_dates: Sequence[date | None],
    adult: Sequence[bool] | np.ndarray | None = None,
    runtimes: Sequence[int | None] | None = None,
    languages: Sequence[str | None] | None = None,
) -> Catalogue:
    """Arrays for the engine from plain columns; `genre_links` holds (movie id, genre tmdb id).

    Runtimes and languages are only needed by filters (unknown when not given)."""
    ids = np.asarray(movie_ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    genre_tmdb = np.asarray(genre_tmdb_ids, dtype=np.int64)
    genre_position = {int(tmdb_id): pos for pos, tmdb_id in enumerate(genre_tmdb)}
    matrix = np.zeros((ids.size, genre_tmdb.size), dtype=np.float32)
    if len(genre_links) and ids.size:
        links = np.asarray(genre_links, dtype=np.int64).reshape(-1, 2)
        rows = np.searchsorted(ids, links[:, 0]).clip(0, ids.size - 1)
        cols = np.array([genre_position.get(int(g), -1) for g in links[:, 1]], dtype=np.int64)
        known = (ids[rows] == links[:, 0]) & (cols >= 0)
        matrix[rows[known], cols[known]] = 1.0
    release = float_column(
        [None if day is None else day.toordinal() for day in release_dates], order
    )
    year = float_column([None if day is None else day.year for day in release_dates], order)
    runtime = np.full(ids.size, np.nan)
    if runtimes is not None and ids.size:
        runtime = float_column(runtimes, order)
    language = np.full(ids.size, "", dtype=object)
    if languages is not None and ids.size:
        language = np.array([(value or "").lower() for value in languages], dtype=object)[order]
    average = np.asarray(vote_average, dtype=np.float64)[order]
    count = np.asarray(vote_count, dtype=np.float64)[order]
    pop = np.asarray(popularity, dtype=np.float64)[order]
    names = list(genre_names)
    return Catalogue(
        movie_ids=ids,
        tmdb_ids=np.asarray(tmdb_ids, dtype=np.int64)[order],
        titles=[titles[i] for i in order],
        genre_matrix=matrix,
        genre_tmdb_ids=genre_tmdb,
        genre_names=names,
        top_genre=top_genres(matrix, names),
        vote_average=average,
        vote_count=count,
        popularity=pop,
        release_day=release,
        release_year=year,
        runtime=runtime,
        languages=language,
        adult=(
            np.zeros(ids.size, dtype=bool)
            if adult is None
            else np.asarray(adult, dtype=bool)[order]
        ),
        quality=quality_signal(average, count),
        popularity_signal=popularity_signal(pop),
    )
