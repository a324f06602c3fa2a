"""The onboarding list: well-known films that together tell tastes apart, for a new user to
rate before their first recommendations.

A greedy selection over the best-known candidates. Each step takes the film with the best

    fame x informativeness x (1 + coverage of genres and decades) x (1 - redundancy)

where fame is how widely seen it is (popularity and vote count), informativeness how much
liking it says about other films in the item model, coverage rewards genres and decades the
list does not hold yet (with diminishing returns), and redundancy is its strongest item-model
similarity to a film already chosen: two films liked by the same people ask the same
question twice. Without an item model it is popularity and spread only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.ranking import rank_positions

# How many films the list holds unless asked otherwise.
DEFAULT_SIZE = 20
# Only the best-known candidates compete: enough for every genre and era, few enough that
# every film on the list is one most people can rate.
POOL_SIZE = 200
# How much a new genre (and a new decade) adds to a film's fame; see the module docstring.
GENRE_WEIGHT = 2.0
DECADE_WEIGHT = 1.0
# A film as similar to a chosen one as the pool's most similar pair keeps 1 - this of its gain.
REDUNDANCY_WEIGHT = 0.75
# Informativeness runs from this (not in the model) to 1 (the pool's most connected film).
UNINFORMATIVE = 0.5

UNKNOWN = -1
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class OnboardingPick:
    """A chosen film, and the slot it fills: the genre and decade it brought to the list."""

    position: int  # catalogue position
    movie_id: int
    genre: int  # genre position of its slot, UNKNOWN for a film without genres
    decade: int  # first year of its decade (1990), UNKNOWN when its release date is unknown
    new_genre: bool  # the list held no film of `genre` before this one
    new_decade: bool  # nor of `decade`


def fame(catalogue: Catalogue) -> np.ndarray:
    """How widely known each film is, 0..1: its popularity signal and log vote count, averaged."""
    if catalogue.size == 0:
        return np.empty(0)
    votes = np.log1p(catalogue.vote_count.clip(min=0))
    most = float(votes.max())
    vote_signal = votes / most if most > 0 else np.zeros(catalogue.size)
    return (catalogue.popularity_signal + vote_signal) / 2


def decades(release_day: np.ndarray) -> np.ndarray:
    """The first year of each film's decade (1994 -> 1990), UNKNOWN without a release date."""
    days = np.asarray(release_day, dtype=np.float64)
    known = np.isfinite(days)
    since_epoch = np.where(known, days, EPOCH_ORDINAL) - EPOCH_ORDINAL
    years = since_epoch.astype("int64").astype("datetime64[D]").astype("datetime64[Y]")
    return np.where(known, (years.astype(np.int64) + 1970) // 10 * 10, UNKNOWN)


def informativeness(similarity: sp.csr_matrix | None, pool: np.ndarray) -> np.ndarray:
    """How much liking each pool film says about the others in the item model, scaled from
    UNINFORMATIVE (nothing: not in the model) to 1 (the pool's most connected film)."""
    if similarity is None or similarity.nnz == 0 or pool.size == 0:
        return np.ones(pool.size)
    strength = np.asarray(similarity[pool].sum(axis=1)).ravel().astype(np.float64)
    strongest = float(strength.max())
    if strongest <= 0:
        return np.ones(pool.size)
    return UNINFORMATIVE + (1 - UNINFORMATIVE) * strength / strongest


def pairwise_similarity(similarity: sp.csr_matrix | None, pool: np.ndarray) -> np.ndarray:
    """Symmetric item-model similarity between pool films, the strongest pair scaled to 1."""
    if similarity is None or similarity.nnz == 0 or pool.size == 0:
        return np.zeros((pool.size, pool.size))
    block = similarity[pool][:, pool].toarray().astype(np.float64)
    symmetric = np.maximum(block, block.T)
    np.fill_diagonal(symmetric, 0.0)
    strongest = float(symmetric.max())
    return symmetric / strongest if strongest > 0 else symmetric


def best_known(
    catalogue: Catalogue, candidates: np.ndarray, known: np.ndarray, size: int
) -> np.ndarray:
    """The `size` best-known candidate positions (by `known`), best first, ties by movie id."""
    ranked = rank_positions(np.flatnonzero(candidates), known, catalogue.movie_ids, size)
    return ranked[:size]


def slot_genre(genres: np.ndarray, covered: np.ndarray, rarity: np.ndarray) -> int:
    """The genre a film brings: its least covered one; ties to the rarest in the pool."""
    own = np.flatnonzero(genres)
    if own.size == 0:
        return UNKNOWN
    best = np.lexsort((own, rarity[own], covered[own]))[0]
    return int(own[best])


def select_onboarding(
    catalogue: Catalogue,
    candidates: np.ndarray,
    similarity: sp.csr_matrix | None = None,
    size: int = DEFAULT_SIZE,
    pool_size: int = POOL_SIZE,
) -> list[OnboardingPick]:
    """Up to `size` candidate films that together tell tastes apart, in the order chosen.

    `candidates` masks the catalogue positions that may be shown (not what the user already
    has); `similarity` is the item model aligned to catalogue positions, None before one exists.
    """
    if size <= 0 or catalogue.size == 0:
        return []
    known = fame(catalogue)
    pool = best_known(catalogue, candidates, known, max(pool_size, size))
    if pool.size == 0:
        return []
    genres = catalogue.genre_matrix[pool] > 0
    genre_count = genres.sum(axis=1)
    decade_of = decades(catalogue.release_day[pool])
    decade_values, decade_index = np.unique(decade_of, return_inverse=True)
    dated = decade_of != UNKNOWN
    base = known[pool] * informativeness(similarity, pool)
    pairs = pairwise_similarity(similarity, pool)
    rarity = genres.sum(axis=0)

    covered_genres = np.zeros(genres.shape[1])
    covered_decades = np.zeros(decade_values.size)
    redundancy = np.zeros(pool.size)
    available = np.ones(pool.size, dtype=bool)
    picks: list[OnboardingPick] = []
    while len(picks) < size and available.any():
        # Diminishing returns: a genre's k-th film adds 1/k, averaged over the film's genres.
        genre_gain = np.divide(
            genres @ (1.0 / (1.0 + covered_genres)),
            genre_count,
            out=np.zeros(pool.size),
            where=genre_count > 0,
        )
        decade_gain = np.where(dated, 1.0 / (1.0 + covered_decades[decade_index]), 0.0)
        gain = (
            base
            * (1.0 + GENRE_WEIGHT * genre_gain + DECADE_WEIGHT * decade_gain)
            * (1.0 - REDUNDANCY_WEIGHT * redundancy)
        )
        gain[~available] = -np.inf
        best = int(np.argmax(gain))  # the first of equals: the better known (pool order)
        genre = slot_genre(genres[best], covered_genres, rarity)
        decade = int(decade_of[best])
        picks.append(
            OnboardingPick(
                position=int(pool[best]),
                movie_id=int(catalogue.movie_ids[pool[best]]),
                genre=genre,
                decade=decade,
                new_genre=genre != UNKNOWN and covered_genres[genre] == 0,
                new_decade=decade != UNKNOWN and covered_decades[decade_index[best]] == 0,
            )
        )
        covered_genres += genres[best]
        if dated[best]:
            covered_decades[decade_index[best]] += 1
        np.maximum(redundancy, pairs[:, best], out=redundancy)
        available[best] = False
    return picks


def describe_pick(pick: OnboardingPick, genre_names: list[str]) -> str:
    """Why the film is on the list, e.g. "A well-known Western film of the 1960s"."""
    genre = genre_names[pick.genre] if pick.genre != UNKNOWN else ""
    subject = f"{genre} film" if genre else "film"
    era = f" of the {pick.decade}s" if pick.decade != UNKNOWN else ""
    return f"A well-known {subject}{era}"
