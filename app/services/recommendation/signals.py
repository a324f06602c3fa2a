"""A user's signals in catalogue positions, and each 0..1 signal for every catalogue movie:
genre affinity (from the genre profile), recency and the learned collaborative signal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue

# A rating at or above this (1-10 scale, steps of 0.5) is a positive interaction: "liked".
LIKED_RATING = 7
# Recency decays linearly to 0 over this many days after release.
RECENCY_DAYS = 730
# Weight of a weak positive signal (a viewing, or "like" feedback on a recommendation).
WEAK_POSITIVE = 0.5

# Kinds of rows in the one query that loads a user's signals.
FAVORITE, RATING, DISMISSED, WATCHED, LIKED_FEEDBACK, WATCHLISTED = 1, 2, 3, 4, 5, 6


def _no_positions() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class UserSignals:
    """What one user told us, in catalogue positions."""

    liked: np.ndarray  # positions of positive signals, strongest first
    liked_weight: np.ndarray  # 1 for favourites and ratings >= 7, WEAK_POSITIVE for the rest
    excluded: np.ndarray  # positions never recommended to this user
    favorite_genres: np.ndarray  # genre positions from the profile (cold start)
    mature_content: bool = False
    # Left out unless the caller asks to see them (exclude_watched / exclude_watchlisted).
    watched: np.ndarray = field(default_factory=_no_positions)
    watchlisted: np.ndarray = field(default_factory=_no_positions)

    @property
    def is_cold(self) -> bool:
        return self.liked.size == 0


@dataclass(frozen=True, eq=False)
class Signals:
    """Every signal for every catalogue movie, each in 0..1, and the genre profile (0..1 per
    genre) behind the genre signal."""

    genre: np.ndarray
    quality: np.ndarray
    popularity: np.ndarray
    recency: np.ndarray
    collaborative: np.ndarray
    profile: np.ndarray


def recency_signal(release_day: np.ndarray, today: date) -> np.ndarray:
    """1 on release day, falling linearly to 0 after RECENCY_DAYS; 0 for unknown or future."""
    age = today.toordinal() - release_day
    with np.errstate(invalid="ignore"):
        fresh = (age >= 0) & (age <= RECENCY_DAYS)
    return np.where(fresh, 1.0 - np.nan_to_num(age) / RECENCY_DAYS, 0.0)


def build_genre_profile(
    genre_matrix: np.ndarray, liked: np.ndarray, liked_weight: np.ndarray
) -> np.ndarray:
    """Weighted genre counts over the liked movies, normalised so the strongest genre is 1."""
    if liked.size == 0 or genre_matrix.shape[1] == 0:
        return np.zeros(genre_matrix.shape[1])
    profile = liked_weight.astype(np.float64) @ genre_matrix[liked].astype(np.float64)
    strongest = profile.max()
    return profile / strongest if strongest > 0 else profile


def genre_profile(catalogue: Catalogue, user: UserSignals) -> np.ndarray:
    """The user's genre profile: from what they liked, or for a cold start the favourite
    genres of their profile (each 1)."""
    if user.is_cold:
        profile = np.zeros(catalogue.genre_matrix.shape[1])
        profile[user.favorite_genres] = 1.0
        return profile
    return build_genre_profile(catalogue.genre_matrix, user.liked, user.liked_weight)


def genre_affinity(genre_matrix: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """The mean profile weight of each movie's genres (0 for a movie without genres)."""
    genre_count = genre_matrix.sum(axis=1)
    total = genre_matrix @ profile.astype(np.float32)
    return np.divide(total, genre_count, out=np.zeros(genre_count.shape), where=genre_count > 0)


def collaborative_signal(
    similarity: sp.csr_matrix | None,
    liked: np.ndarray,
    liked_weight: np.ndarray,
    candidates: np.ndarray,
) -> np.ndarray:
    """Summed learned similarity to the liked movies, divided by its best candidate's value."""
    size = candidates.size
    if similarity is None or liked.size == 0 or similarity.nnz == 0:
        return np.zeros(size)
    seeds = sp.csr_matrix(
        (liked_weight.astype(np.float32), (np.zeros(liked.size, dtype=np.int64), liked)),
        shape=(1, size),
    )
    raw = np.asarray((seeds @ similarity).todense()).ravel().astype(np.float64)
    raw[~candidates] = 0.0
    best = raw.max() if size else 0.0
    return raw / best if best > 0 else raw


def candidate_mask(
    catalogue: Catalogue,
    user: UserSignals,
    *,
    exclude_watched: bool = True,
    exclude_watchlisted: bool = True,
) -> np.ndarray:
    """Movies that may be recommended: not excluded, adult only with mature content on, and
    (unless asked otherwise) neither watched nor on the watchlist."""
    mask = np.ones(catalogue.size, dtype=bool) if user.mature_content else ~catalogue.adult
    mask[user.excluded] = False
    if exclude_watched:
        mask[user.watched] = False
    if exclude_watchlisted:
        mask[user.watchlisted] = False
    return mask


def compute_signals(
    catalogue: Catalogue,
    user: UserSignals,
    candidates: np.ndarray,
    today: date,
    similarity: sp.csr_matrix | None,
) -> Signals:
    """Each signal, 0..1, for every movie (the collaborative one only for candidates)."""
    profile = genre_profile(catalogue, user)
    if user.is_cold:
        collaborative = np.zeros(catalogue.size)
    else:
        collaborative = collaborative_signal(similarity, user.liked, user.liked_weight, candidates)
    return Signals(
        genre=genre_affinity(catalogue.genre_matrix, profile),
        quality=catalogue.quality,
        popularity=catalogue.popularity_signal,
        recency=recency_signal(catalogue.release_day, today),
        collaborative=collaborative,
        profile=profile,
    )


def graded_liking(rating: float) -> float:
    """A liked rating's weight by its value: (rating - 4) / 6, so 7 -> 0.5 and 10 -> 1."""
    return min(max((float(rating) - 4) / 6, 0.0), 1.0)


def user_signals_from_rows(
    catalogue: Catalogue,
    rows: Sequence[tuple[int, int, float]],
    favorite_genre_tmdb_ids: Sequence[Any] = (),
    mature_content: bool = False,
    *,
    graded: bool = False,
) -> UserSignals:
    """Liked, excluded and profile genres in catalogue positions, from (kind, movie, rating).

    A liked film weighs 1, or with `graded` its `graded_liking` (a favourite still 1)."""
    strength: dict[int, float] = {}  # movie id -> weight of its strongest positive signal
    order_key: dict[int, float] = {}  # movie id -> how strongly liked (naming in explanations)
    excluded: set[int] = set()
    watched: set[int] = set()
    watchlisted: set[int] = set()
    for kind, movie_id, rating in rows:
        if kind == FAVORITE or (kind == RATING and rating >= LIKED_RATING):
            value = graded_liking(rating) if graded and kind == RATING else 1.0
            strength[movie_id] = max(strength.get(movie_id, 0.0), value)
            order_key[movie_id] = max(
                order_key.get(movie_id, 0), 10 if kind == FAVORITE else rating
            )
            excluded.add(movie_id)
        elif kind == RATING:
            excluded.add(movie_id)  # every rated movie, liked or not
        elif kind == DISMISSED:
            excluded.add(movie_id)
        elif kind in (WATCHED, LIKED_FEEDBACK):
            strength.setdefault(movie_id, WEAK_POSITIVE)
            order_key.setdefault(movie_id, 1)
            if kind == WATCHED:
                watched.add(movie_id)
        elif kind == WATCHLISTED:
            watchlisted.add(movie_id)
    liked_ids = sorted(strength, key=lambda movie_id: (-order_key[movie_id], movie_id))
    positions = catalogue.positions(liked_ids)
    known = positions >= 0
    excluded_positions = catalogue.positions(sorted(excluded))
    watched_positions = catalogue.positions(sorted(watched))
    watchlisted_positions = catalogue.positions(sorted(watchlisted))
    genre_position = {int(tmdb_id): pos for pos, tmdb_id in enumerate(catalogue.genre_tmdb_ids)}
    favorite_genres = sorted(
        {
            genre_position[int(genre)]
            for genre in favorite_genre_tmdb_ids or ()
            if isinstance(genre, int) and not isinstance(genre, bool) and genre in genre_position
        }
    )
    return UserSignals(
        liked=positions[known],
        liked_weight=np.array([strength[m] for m in liked_ids], dtype=np.float64)[known],
        excluded=excluded_positions[excluded_positions >= 0],
        favorite_genres=np.asarray(favorite_genres, dtype=np.int64),
        mature_content=mature_content,
        watched=watched_positions[watched_positions >= 0],
        watchlisted=watchlisted_positions[watchlisted_positions >= 0],
    )
