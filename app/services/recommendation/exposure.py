"""Exposure: how often the engine puts each film in users' lists, the signal behind the
exposure re-rank (`ranking.rerank_by_exposure`, `ServingSettings.exposure_*`).

An item model's neighbours are not spread evenly: a few films are among the strongest
neighbours of a great many others (the "hubs" of a nearest-neighbour graph) and so reach
the top of nearly every list, crowding out films that suit each user as well. Counting, over
a sample of users, how often each film reaches the top EXPOSURE_CUTOFF of the engine's own
ranking measures exactly that crowding, where a film's popularity only approximates it.
Training counts it once per model version (over at most MAX_EXPOSURE_USERS users) and stores
it with the model; tuning and the offline evaluation count it on their own training part.
Pure numpy: callers bring the users' signals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.ranking import (
    MAX_SAME_GENRE_RUN,
    ExposureRerank,
    ServingSettings,
    rank_for_user,
)
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import UserSignals, user_signals_from_rows

# A film counts as exposed to a user when it is in their top this-many.
EXPOSURE_CUTOFF = 20
# Users ranked to count exposure at most (a seeded sample): bounds the cost of training.
MAX_EXPOSURE_USERS = 1000


@dataclass(frozen=True, eq=False)
class ItemExposure:
    """How many of the sampled users' lists each film (by item key, TMDb id) was in."""

    keys: np.ndarray  # int64, sorted
    counts: np.ndarray  # float64, parallel to keys

    @classmethod
    def from_positions(cls, catalogue: Catalogue, counts: np.ndarray) -> ItemExposure:
        """Per-position counts keyed by the catalogue's TMDb ids (films with a count only)."""
        shown = np.flatnonzero(counts > 0)
        keys = catalogue.tmdb_ids[shown].astype(np.int64)
        order = np.argsort(keys, kind="stable")
        return cls(keys=keys[order], counts=counts[shown][order].astype(np.float64))


def count_exposure(
    catalogue: Catalogue,
    users: Iterable[tuple[UserSignals, date]],
    weights: Weights,
    similarity: sp.csr_matrix | None,
    *,
    max_same_genre_run: int = MAX_SAME_GENRE_RUN,
    released_only: bool = False,
    cutoff: int = EXPOSURE_CUTOFF,
) -> np.ndarray:
    """Per catalogue position: in how many of `users`' top `cutoff` (each ranked on its
    day, without any exposure re-rank) the film is."""
    counts = np.zeros(catalogue.size)
    for signals, today in users:
        results = rank_for_user(
            catalogue,
            signals,
            weights,
            today,
            cutoff,
            similarity,
            max_same_genre_run=max_same_genre_run,
            released_only=released_only,
        ).results
        counts[catalogue.positions([result.movie_id for result in results])] += 1
    return counts


def exposure_signal(counts: np.ndarray) -> np.ndarray:
    """0..1 per film: log(1 + count) / log(1 + the largest count) (all 0 when nothing was
    counted). The log keeps the re-rank acting on the many moderately exposed films, not only
    on the few most exposed."""
    counts = np.asarray(counts, dtype=np.float64)
    largest = counts.max(initial=0.0)
    if largest <= 0:
        return np.zeros(counts.size)
    return np.log1p(counts) / np.log1p(largest)


def align_exposure(exposure: ItemExposure, catalogue: Catalogue) -> np.ndarray:
    """Counts by catalogue position (films matched by TMDb id; 0 for the others)."""
    counts = np.zeros(catalogue.size)
    if exposure.keys.size == 0 or catalogue.size == 0:
        return counts
    found = np.searchsorted(exposure.keys, catalogue.tmdb_ids).clip(0, exposure.keys.size - 1)
    matched = exposure.keys[found] == catalogue.tmdb_ids
    counts[matched] = exposure.counts[found[matched]]
    return counts


def exposure_rerank(counts: np.ndarray, depth: int, strength: float) -> ExposureRerank | None:
    """The re-rank of `ServingSettings.exposure_*` over these per-position counts (None:
    off)."""
    if depth <= 0 or strength <= 0:
        return None
    return ExposureRerank(signal=exposure_signal(counts), depth=depth, strength=strength)


def sample_users(
    user_ids: np.ndarray, limit: int = MAX_EXPOSURE_USERS, seed: int = 0
) -> np.ndarray:
    """At most `limit` of the distinct `user_ids`, a seeded sample, sorted."""
    distinct = np.unique(np.asarray(user_ids, dtype=np.int64))
    if distinct.size <= limit:
        return distinct
    return np.sort(np.random.default_rng(seed).choice(distinct, limit, replace=False))


def exposure_of_interactions(
    catalogue: Catalogue,
    similarity: sp.csr_matrix | None,
    weights: Weights,
    serving: ServingSettings,
    max_same_genre_run: int,
    interactions: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    today: date,
    *,
    max_users: int = MAX_EXPOSURE_USERS,
) -> np.ndarray:
    """`count_exposure` over a sample of at most `max_users` users, each ranked on `today`
    from their rows of `interactions` (parallel user ids, movie ids, kinds and ratings, as
    `user_signals_from_rows` reads them): what training stores with a model."""
    user_ids, movie_ids, kinds, ratings = (np.asarray(column) for column in interactions)
    order = np.argsort(user_ids, kind="stable")
    sorted_users = user_ids[order]

    def users() -> Iterable[tuple[UserSignals, date]]:
        for user_id in sample_users(user_ids, max_users):
            lo, hi = np.searchsorted(sorted_users, [user_id, user_id + 1])
            mine = order[lo:hi]
            rows = [
                (int(kind), int(movie_id), float(rating))
                for kind, movie_id, rating in zip(
                    kinds[mine], movie_ids[mine], ratings[mine], strict=True
                )
            ]
            signals = user_signals_from_rows(catalogue, rows, graded=serving.graded_seeds)
            yield signals, today

    return count_exposure(
        catalogue,
        users(),
        weights,
        similarity,
        max_same_genre_run=max_same_genre_run,
        released_only=serving.released_only,
    )
