"""The recommendation engine: a user's signals from the database, scored over the whole catalogue.

Two halves kept apart. The arithmetic (``build_catalogue``, ``build_genre_profile``,
``compute_signals``, ``score_candidates``, ``diversify``, ``rank_for_user``...) works on numpy
arrays and never touches the database, so the offline evaluation runs exactly this code. The
loading half reads a user's signals with a fixed number of queries, whatever the catalogue
size, and keeps the catalogue's arrays cached in the process until a cheap fingerprint query
says the catalogue changed.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from flask import current_app, has_request_context
from sqlalchemy import Integer, bindparam, func, literal, select, true, union_all

from app.errors import NotFound
from app.extensions import db
from app.models import (
    Favorite,
    Genre,
    Movie,
    Rating,
    RecommendationFeedback,
    User,
    UserProfile,
    WatchHistory,
    movie_genres,
)
from app.services.catalog import get_movie
from app.services.item_model import (
    LIKED_RATING,
    ItemModel,
    ItemModelStats,
    interaction_watermark,
    model_store,
)

# A rating below this (1-10 scale) is a dismissal.
DISLIKED_RATING = 4
# Recency decays linearly to 0 over this many days after release.
RECENCY_DAYS = 730
# At most this many consecutive results share their top genre.
MAX_SAME_GENRE_RUN = 3
# Weight of a weak positive signal (a viewing, or "like" feedback on a recommendation).
WEAK_POSITIVE = 0.5
# Popularity is log-scaled and capped at this percentile of the catalogue.
POPULARITY_CAP_PERCENTILE = 99.0
# Liked movies named in an explanation.
NAMED_MOVIES = 2
# Shares of the personal part of a score that make a result collaborative / content based.
COLLABORATIVE_SHARE = 2 / 3
CONTENT_SHARE = 1 / 3
# Quality (0..1) from which a film counts as "highly rated" in explanations.
HIGHLY_RATED = 0.75

# Catalogue versions, so caches derived from one catalogue know when it was replaced.
_catalogue_versions = itertools.count(1)

# Kinds of rows in the one query that loads a user's signals.
_FAVOURITE, _RATING, _DISMISSED, _WATCHED, _LIKED_FEEDBACK = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class RecommendedMovie:
    movie_id: int
    score: float
    confidence: float
    recommendation_type: str
    explanation: str


@dataclass(frozen=True)
class Weights:
    """How much each 0..1 signal counts; scores are sums of weight x signal."""

    genre: float
    quality: float
    popularity: float
    recency: float
    collaborative: float

    def __post_init__(self) -> None:
        values = (self.genre, self.quality, self.popularity, self.recency, self.collaborative)
        if any(not np.isfinite(value) or value < 0 for value in values):
            raise ValueError(f"recommender weights must be finite and >= 0, got {values}")
        if sum(values) <= 0:
            raise ValueError("at least one recommender weight must be positive")

    @property
    def total(self) -> float:
        return self.genre + self.quality + self.popularity + self.recency + self.collaborative

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Weights:
        return cls(
            genre=float(config["RECOMMENDER_WEIGHT_GENRE"]),
            quality=float(config["RECOMMENDER_WEIGHT_QUALITY"]),
            popularity=float(config["RECOMMENDER_WEIGHT_POPULARITY"]),
            recency=float(config["RECOMMENDER_WEIGHT_RECENCY"]),
            collaborative=float(config["RECOMMENDER_WEIGHT_COLLABORATIVE"]),
        )


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


@dataclass(frozen=True, eq=False)
class UserSignals:
    """What one user told us, in catalogue positions."""

    liked: np.ndarray  # positions of positive signals, strongest first
    liked_weight: np.ndarray  # 1 for favourites and ratings >= 7, WEAK_POSITIVE for the rest
    excluded: np.ndarray  # positions never recommended to this user
    favourite_genres: np.ndarray  # genre positions from the profile (cold start)
    mature_content: bool = False

    @property
    def is_cold(self) -> bool:
        return self.liked.size == 0


@dataclass(frozen=True, eq=False)
class Signals:
    """Every signal for every catalogue movie, each in 0..1."""

    genre: np.ndarray
    quality: np.ndarray
    popularity: np.ndarray
    recency: np.ndarray
    collaborative: np.ndarray


# --------------------------------------------------------------------------------------------
# The arithmetic: pure functions on arrays.
# --------------------------------------------------------------------------------------------


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


def recency_signal(release_day: np.ndarray, today: date) -> np.ndarray:
    """1 on release day, falling linearly to 0 after RECENCY_DAYS; 0 for unknown or future."""
    age = today.toordinal() - release_day
    with np.errstate(invalid="ignore"):
        fresh = (age >= 0) & (age <= RECENCY_DAYS)
    return np.where(fresh, 1.0 - np.nan_to_num(age) / RECENCY_DAYS, 0.0)


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
) -> Catalogue:
    """Arrays for the engine from plain columns; `genre_links` holds (movie id, genre tmdb id)."""
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
    release = (
        np.array(
            [np.nan if day is None else float(day.toordinal()) for day in release_dates],
            dtype=np.float64,
        )[order]
        if len(release_dates)
        else np.empty(0)
    )
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
        adult=(
            np.zeros(ids.size, dtype=bool)
            if adult is None
            else np.asarray(adult, dtype=bool)[order]
        ),
        quality=quality_signal(average, count),
        popularity_signal=popularity_signal(pop),
    )


def build_genre_profile(
    genre_matrix: np.ndarray, liked: np.ndarray, liked_weight: np.ndarray
) -> np.ndarray:
    """Weighted genre counts over the liked movies, normalised so the strongest genre is 1."""
    if liked.size == 0 or genre_matrix.shape[1] == 0:
        return np.zeros(genre_matrix.shape[1])
    profile = liked_weight.astype(np.float64) @ genre_matrix[liked].astype(np.float64)
    strongest = profile.max()
    return profile / strongest if strongest > 0 else profile


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


def candidate_mask(catalogue: Catalogue, user: UserSignals) -> np.ndarray:
    """Movies that may be recommended: not excluded, and adult only with mature content on."""
    mask = np.ones(catalogue.size, dtype=bool) if user.mature_content else ~catalogue.adult
    mask[user.excluded] = False
    return mask


def compute_signals(
    catalogue: Catalogue,
    user: UserSignals,
    candidates: np.ndarray,
    today: date,
    similarity: sp.csr_matrix | None,
) -> Signals:
    """Each signal, 0..1, for every movie (the collaborative one only for candidates)."""
    if user.is_cold:
        profile = np.zeros(catalogue.genre_matrix.shape[1])
        profile[user.favourite_genres] = 1.0
        collaborative = np.zeros(catalogue.size)
    else:
        profile = build_genre_profile(catalogue.genre_matrix, user.liked, user.liked_weight)
        collaborative = collaborative_signal(similarity, user.liked, user.liked_weight, candidates)
    return Signals(
        genre=genre_affinity(catalogue.genre_matrix, profile),
        quality=catalogue.quality,
        popularity=catalogue.popularity_signal,
        recency=recency_signal(catalogue.release_day, today),
        collaborative=collaborative,
    )


def score_candidates(signals: Signals, weights: Weights) -> np.ndarray:
    """The engine's score: the weighted sum of the signals (0..weights.total)."""
    return (
        weights.genre * signals.genre
        + weights.quality * signals.quality
        + weights.popularity * signals.popularity
        + weights.recency * signals.recency
        + weights.collaborative * signals.collaborative
    )


def padding_scores(signals: Signals, weights: Weights) -> np.ndarray:
    """Popular and well-rated, in the proportion of their weights (equal if both are 0)."""
    quality, popularity = weights.quality, weights.popularity
    if quality + popularity <= 0:
        quality = popularity = 1.0
    return (quality * signals.quality + popularity * signals.popularity) / (quality + popularity)


def rank_positions(
    positions: np.ndarray, scores: np.ndarray, movie_ids: np.ndarray, top: int | None = None
) -> np.ndarray:
    """`positions` by score, best first; ties by movie id, so the order is reproducible.

    With `top`, only the best `top` (and any tied with the last of them) are sorted and returned.
    """
    if top is not None and positions.size > top:
        values = scores[positions]
        threshold = np.partition(values, values.size - top)[values.size - top]
        positions = positions[values >= threshold]
    if positions.size == 0:
        return positions
    return positions[np.lexsort((movie_ids[positions], -scores[positions]))]


def diversify(
    ranked: Sequence[int] | np.ndarray,
    top_genre: np.ndarray,
    limit: int,
    max_run: int = MAX_SAME_GENRE_RUN,
) -> list[int]:
    """Take `ranked` in order, but never let more than `max_run` consecutive results share a top
    genre: a movie that would is held back and placed as soon as the run is broken. Movies
    without a genre (-1) never form a run. Stops short only when nothing left can be placed.

    Held-back movies all share the blocked genre (they are placed again as soon as the run
    changes), so one deque and a vectorised search for the next other genre keep it linear.
    """
    order = np.asarray(ranked, dtype=np.int64)
    genres = top_genre[order] if order.size else np.empty(0, dtype=np.int64)
    chosen: list[int] = []
    held: deque[int] = deque()
    held_genre = -1
    run_genre, run_length = -1, 0
    pointer = 0

    def place(position: int, genre: int) -> None:
        nonlocal run_genre, run_length
        if genre >= 0 and genre == run_genre:
            run_length += 1
        else:
            run_genre, run_length = genre, 1
        chosen.append(position)

    while len(chosen) < limit:
        blocked = run_genre >= 0 and run_length >= max_run
        if held and not (blocked and held_genre == run_genre):
            place(held.popleft(), held_genre)
            continue
        if pointer >= order.size:
            break
        if not blocked:
            place(int(order[pointer]), int(genres[pointer]))
            pointer += 1
            continue
        rest = genres[pointer:]
        others = np.flatnonzero((rest != run_genre) | (rest < 0))
        stop = pointer + int(others[0]) if others.size else order.size
        held.extend(int(p) for p in order[pointer:stop])
        held_genre = run_genre
        if stop < order.size:
            place(int(order[stop]), int(genres[stop]))
        pointer = stop + 1
    return chosen


def join_names(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


@dataclass(frozen=True, eq=False)
class _Context:
    catalogue: Catalogue
    user: UserSignals
    signals: Signals
    weights: Weights
    profile: np.ndarray
    # Weighted learned similarity of each liked movie (rows) to each chosen one (columns).
    liked_to_chosen: np.ndarray
    column: dict[int, int]


def _best_genre(context: _Context, position: int, profile: np.ndarray) -> int:
    genres = np.nonzero(context.catalogue.genre_matrix[position])[0]
    if genres.size == 0:
        return -1
    return int(genres[np.argmax(profile[genres])])


def _liked_with_genre(context: _Context, genre: int) -> list[str]:
    catalogue, user = context.catalogue, context.user
    having = user.liked[catalogue.genre_matrix[user.liked, genre] > 0]
    return [catalogue.titles[p] for p in having[:NAMED_MOVIES]]


def _most_similar_liked(context: _Context, position: int) -> list[str]:
    user = context.user
    if not context.liked_to_chosen.size:
        return []
    contribution = context.liked_to_chosen[:, context.column[position]]
    order = np.argsort(-contribution, kind="stable")
    best = [user.liked[i] for i in order[:NAMED_MOVIES] if contribution[i] > 0]
    return [context.catalogue.titles[p] for p in best]


def _explain_personal(context: _Context, position: int) -> tuple[str, str]:
    """(recommendation_type, explanation) of a result chosen for the user's own signals."""
    weights, signals = context.weights, context.signals
    catalogue = context.catalogue
    genre_part = weights.genre * signals.genre[position]
    collaborative_part = weights.collaborative * signals.collaborative[position]
    genre = _best_genre(context, position, context.profile)
    genre_name = catalogue.genre_names[genre] if genre >= 0 else ""
    if context.user.is_cold:
        return "content_based", f"Popular in {genre_name}"
    share = collaborative_part / (genre_part + collaborative_part)
    similar = _most_similar_liked(context, position) if share > CONTENT_SHARE else []
    if similar and share >= COLLABORATIVE_SHARE:
        return "collaborative", f"Because you liked {join_names(similar)}"
    if similar and genre_name:
        return "hybrid", f"Because you liked {join_names(similar)}, and you enjoy {genre_name}"
    liked = _liked_with_genre(context, genre) if genre >= 0 else []
    if liked:
        return "content_based", f"Because you like {genre_name} films such as {join_names(liked)}"
    if similar:
        return "collaborative", f"Because you liked {join_names(similar)}"
    return "content_based", "Matches your favourite genres"


def _explain_padding(context: _Context, position: int) -> str:
    quality = context.signals.quality[position]
    new = context.signals.recency[position] > 0.5
    if quality >= HIGHLY_RATED and new:
        return "Highly rated and new"
    if quality >= HIGHLY_RATED:
        return "Highly rated"
    if new:
        return "New and popular"
    return "Popular right now"


def rank_for_user(
    catalogue: Catalogue,
    user: UserSignals,
    weights: Weights,
    today: date,
    limit: int,
    similarity: sp.csr_matrix | None = None,
) -> list[RecommendedMovie]:
    """The engine end to end on arrays: score, rank, pad, diversify and explain.

    Movies the user's own signals reach (genre affinity or learned similarity; for a cold user
    the profile's favourite genres) come first by score; the rest pad the list, popular and
    well rated first. `similarity` is the item model aligned to catalogue positions.
    """
    if limit <= 0 or catalogue.size == 0:
        return []
    candidates = candidate_mask(catalogue, user)
    signals = compute_signals(catalogue, user, candidates, today, similarity)
    scores = score_candidates(signals, weights)
    personal = candidates & (
        (weights.genre * signals.genre > 0) | (weights.collaborative * signals.collaborative > 0)
    )
    padding = padding_scores(signals, weights)
    personal_positions = np.nonzero(personal)[0]
    padding_positions = np.nonzero(candidates & ~personal)[0]
    # Sorting the best few hundred is enough unless the diversity walk needs more: then it
    # would have taken padding before a personal movie further down, or come up short.
    window = max(limit * 25, 500)
    personal_ranked = rank_positions(personal_positions, scores, catalogue.movie_ids, window)
    padding_ranked = rank_positions(padding_positions, padding, catalogue.movie_ids, window)
    chosen = diversify(
        np.concatenate([personal_ranked, padding_ranked]), catalogue.top_genre, limit
    )
    cut_personal = personal_ranked.size < personal_positions.size
    cut_padding = padding_ranked.size < padding_positions.size
    if (cut_personal and not personal[chosen].all()) or (
        len(chosen) < limit and (cut_personal or cut_padding)
    ):
        ranked = np.concatenate(
            [
                rank_positions(personal_positions, scores, catalogue.movie_ids),
                rank_positions(padding_positions, padding, catalogue.movie_ids),
            ]
        )
        chosen = diversify(ranked, catalogue.top_genre, limit)
    if user.is_cold:
        profile = np.zeros(catalogue.genre_matrix.shape[1])
        profile[user.favourite_genres] = 1.0
    else:
        profile = build_genre_profile(catalogue.genre_matrix, user.liked, user.liked_weight)
    if similarity is not None and user.liked.size and chosen:
        # One slice for the whole list: per-result sparse indexing costs more than the scoring.
        block = similarity[user.liked][:, chosen].toarray()
        liked_to_chosen = block * user.liked_weight[:, None]
    else:
        liked_to_chosen = np.empty((0, 0))
    column = {position: index for index, position in enumerate(chosen)}
    context = _Context(catalogue, user, signals, weights, profile, liked_to_chosen, column)
    results = []
    for position in chosen:
        if personal[position]:
            kind, explanation = _explain_personal(context, position)
            score = float(scores[position])
            confidence = score / weights.total
        else:
            kind, explanation = "trending", _explain_padding(context, position)
            score = float(padding[position])
            confidence = score / 2
        results.append(
            RecommendedMovie(
                movie_id=int(catalogue.movie_ids[position]),
                score=round(score, 4),
                confidence=round(min(max(confidence, 0.0), 1.0), 4),
                recommendation_type=kind,
                explanation=explanation,
            )
        )
    return results


def align_similarity(model: ItemModel, catalogue: Catalogue) -> sp.csr_matrix:
    """The model's similarities re-indexed by catalogue position (items matched by TMDb id)."""
    size = catalogue.size
    if model.keys.size == 0 or size == 0:
        return sp.csr_matrix((size, size), dtype=np.float32)
    order = np.argsort(catalogue.tmdb_ids, kind="stable")
    sorted_tmdb = catalogue.tmdb_ids[order]
    found = np.searchsorted(sorted_tmdb, model.keys).clip(0, size - 1)
    position = np.where(sorted_tmdb[found] == model.keys, order[found], -1)
    coo = model.similarity.tocoo()
    rows, cols = position[coo.row], position[coo.col]
    known = (rows >= 0) & (cols >= 0)
    return sp.csr_matrix(
        (coo.data[known], (rows[known], cols[known])), shape=(size, size), dtype=np.float32
    )


_WORD = re.compile(r"[a-z][a-z']{2,}")
_STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "that",
        "with",
        "his",
        "her",
        "their",
        "from",
        "this",
        "into",
        "they",
        "them",
        "who",
        "when",
        "where",
        "which",
        "while",
        "what",
        "will",
        "has",
        "have",
        "had",
        "are",
        "was",
        "were",
        "been",
        "being",
        "its",
        "it's",
        "not",
        "but",
        "all",
        "one",
        "two",
        "can",
        "after",
        "before",
        "about",
        "over",
        "out",
        "off",
        "him",
        "she",
        "he",
        "you",
        "your",
        "our",
        "ours",
        "there",
        "then",
        "than",
        "also",
        "only",
        "just",
        "must",
        "must",
        "more",
        "most",
        "some",
        "such",
        "very",
        "each",
        "other",
        "any",
        "own",
        "same",
        "both",
        "few",
        "upon",
        "again",
        "these",
        "those",
        "between",
        "through",
        "during",
        "without",
        "within",
        "against",
        "under",
        "while",
        "whose",
        "whom",
        "film",
        "movie",
        "story",
        "life",
    ]
)


def build_overview_vectors(overviews: Sequence[str]) -> sp.csr_matrix:
    """TF-IDF of the overviews (words in 2 or more, and at most half, of them), rows L2-normed."""
    counts = [
        Counter(w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS)
        for text in overviews
    ]
    documents = Counter(word for count in counts for word in count)
    limit = max(2, len(overviews) // 2)
    vocabulary = {
        word: index
        for index, word in enumerate(sorted(w for w, df in documents.items() if 2 <= df <= limit))
    }
    rows, cols, values = [], [], []
    for row, count in enumerate(counts):
        for word, times in count.items():
            column = vocabulary.get(word)
            if column is not None:
                rows.append(row)
                cols.append(column)
                values.append(1.0 + np.log(times))
    matrix = sp.csr_matrix(
        (np.asarray(values, dtype=np.float32), (rows, cols)),
        shape=(len(overviews), len(vocabulary)),
    )
    if vocabulary:
        frequency = np.array([documents[w] for w in sorted(vocabulary)], dtype=np.float32)
        matrix = matrix @ sp.diags(np.log((1 + len(overviews)) / (1 + frequency)) + 1.0)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        matrix = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ matrix
    return sp.csr_matrix(matrix, dtype=np.float32)


# Shares of "movies like this one": learned similarity, genre overlap, overview text.
SIMILAR_WEIGHTS = {"collaborative": 0.45, "genre": 0.35, "text": 0.20}


def rank_similar(
    catalogue: Catalogue,
    position: int,
    limit: int,
    similarity: sp.csr_matrix | None,
    overview_vectors: sp.csr_matrix | None,
) -> list[RecommendedMovie]:
    """Movies like the one at `position`: a blend of the signals this movie has, best first."""
    if limit <= 0:
        return []
    genres = catalogue.genre_matrix
    shared = genres @ genres[position]
    union = genres.sum(axis=1) + genres[position].sum() - shared
    parts: dict[str, np.ndarray] = {}
    if genres[position].any():
        parts["genre"] = np.divide(shared, union, out=np.zeros(catalogue.size), where=union > 0)
    if similarity is not None:
        learned = np.maximum(
            np.asarray(similarity[position].todense()).ravel(),
            np.asarray(similarity[:, position].todense()).ravel(),
        )
        if learned.max() > 0:
            parts["collaborative"] = learned / learned.max()
    if overview_vectors is not None and overview_vectors[position].nnz:
        text = np.asarray((overview_vectors @ overview_vectors[position].T).todense()).ravel()
        text[position] = 0.0
        if text.max() > 0:
            parts["text"] = text / text.max()
    if not parts:
        return []
    total_weight = sum(SIMILAR_WEIGHTS[name] for name in parts)
    blended = np.zeros(catalogue.size)
    for name, values in parts.items():
        blended += SIMILAR_WEIGHTS[name] * values / total_weight
    # A sliver of quality and popularity orders films that are equally similar.
    scores = blended + 0.01 * (catalogue.quality + catalogue.popularity_signal)
    eligible = np.asarray(blended > 0)
    eligible[position] = False
    if not catalogue.adult[position]:
        eligible &= ~catalogue.adult
    ranked = rank_positions(np.nonzero(eligible)[0], scores, catalogue.movie_ids)[:limit]
    title = catalogue.titles[position]
    results = []
    for other in ranked:
        contributions = {
            name: SIMILAR_WEIGHTS[name] * values[other] for name, values in parts.items()
        }
        strongest = max(contributions, key=lambda name: contributions[name])
        learned_share = contributions.get("collaborative", 0.0) / sum(contributions.values())
        if strongest == "collaborative":
            kind = "collaborative" if learned_share >= COLLABORATIVE_SHARE else "hybrid"
            explanation = f"Often liked by people who liked {title}"
        elif strongest == "text":
            kind = "hybrid" if learned_share > CONTENT_SHARE else "content_based"
            explanation = f"A story like {title}'s"
        else:
            kind = "hybrid" if learned_share > CONTENT_SHARE else "content_based"
            both = np.nonzero(genres[other] * genres[position])[0]
            names = [catalogue.genre_names[g] for g in both]
            explanation = f"{join_names(sorted(names))}, like {title}"
        results.append(
            RecommendedMovie(
                movie_id=int(catalogue.movie_ids[other]),
                score=round(float(scores[other]), 4),
                confidence=round(float(min(max(blended[other], 0.0), 1.0)), 4),
                recommendation_type=kind,
                explanation=explanation,
            )
        )
    return results


# --------------------------------------------------------------------------------------------
# The loading half: the database, the in-process caches and the public interface.
# --------------------------------------------------------------------------------------------


class _EngineState:
    """Per-app caches, all derived from the database and rebuilt on demand."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fingerprint: tuple[Any, ...] | None = None
        self.catalogue: Catalogue | None = None
        self.aligned: tuple[int, int, sp.csr_matrix] | None = None  # model and catalogue versions
        self.overviews: tuple[int, sp.csr_matrix] | None = None  # catalogue version, vectors
        self.watermark = 0
        self.checked_at = -math.inf  # time.monotonic() of the last fingerprint query


def _state() -> _EngineState:
    state = current_app.extensions.get("recommender_state")
    if state is None:
        state = current_app.extensions.setdefault("recommender_state", _EngineState())
    return state


def reset_caches() -> None:
    """Forget the cached catalogue and item model of the current app (tests, after imports)."""
    current_app.extensions.pop("recommender_state", None)
    store = current_app.extensions.pop("item_model_store", None)
    if store is not None:
        store.wait()


def _fingerprint_statement():  # type: ignore[no-untyped-def]
    """One statement: what identifies the catalogue's state, and the interaction watermark."""
    movies = Movie.__table__.c
    # One pass over each table: counts, the latest change, and a genre-id sum that moves when
    # a movie's genre is swapped for another (a relink that keeps the count).
    movie_state = select(
        func.count().label("movies"),
        func.max(movies.updated_at).label("updated"),
        func.count(movies.deleted_at).label("removed"),
    ).subquery()
    link_state = select(
        func.count().label("links"),
        func.coalesce(func.sum(movie_genres.c.genre_id), 0).label("genre_sum"),
    ).subquery()
    return select(
        movie_state,
        link_state,
        select(func.count()).select_from(Genre.__table__).scalar_subquery(),
        interaction_watermark(),
    ).select_from(movie_state.join(link_state, true()))


def _load_catalogue() -> Catalogue:
    """Three queries: the live movies, their genre links and the genres."""
    rows = db.session.execute(
        select(
            Movie.id,
            Movie.tmdb_id,
            Movie.title,
            Movie.vote_average,
            Movie.vote_count,
            Movie.popularity,
            Movie.release_date,
            Movie.adult,
        ).where(Movie.deleted_at.is_(None))
    ).all()
    links = db.session.execute(
        select(movie_genres.c.movie_id, Genre.tmdb_id).join(
            Genre, Genre.id == movie_genres.c.genre_id
        )
    ).all()
    genres = db.session.execute(select(Genre.tmdb_id, Genre.name).order_by(Genre.tmdb_id)).all()
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in range(8)]
    return build_catalogue(
        movie_ids=columns[0],
        tmdb_ids=columns[1],
        titles=columns[2],
        vote_average=[value or 0.0 for value in columns[3]],
        vote_count=[value or 0 for value in columns[4]],
        popularity=[value or 0.0 for value in columns[5]],
        release_dates=columns[6],
        adult=[bool(value) for value in columns[7]],
        genre_links=[(movie_id, genre) for movie_id, genre in links],
        genre_tmdb_ids=[tmdb_id for tmdb_id, _ in genres],
        genre_names=[name for _, name in genres],
    )


def _current_catalogue(state: _EngineState, *, check: bool = False) -> tuple[Catalogue, int]:
    """The cached catalogue, reloaded when its fingerprint moved; and the interaction watermark.

    The fingerprint is read at most once per RECOMMENDER_CATALOGUE_CHECK_SECONDS (0: every
    call); in between, the cached arrays and watermark serve without a query. `check` reads it
    now whatever the time.
    """
    interval = float(current_app.config["RECOMMENDER_CATALOGUE_CHECK_SECONDS"])
    catalogue = state.catalogue
    if not check and catalogue is not None and time.monotonic() - state.checked_at < interval:
        return catalogue, state.watermark
    *fingerprint, watermark = db.session.execute(_fingerprint_statement()).one()
    key = tuple(fingerprint)
    with state.lock:
        if state.catalogue is None or state.fingerprint != key:
            state.catalogue = _load_catalogue()
            state.fingerprint = key
        state.watermark = int(watermark or 0)
        state.checked_at = time.monotonic()
        return state.catalogue, state.watermark


def _current_model(watermark: int) -> ItemModel | None:
    """The cached model; a rebuild is due after RECOMMENDER_REBUILD_AFTER new interactions.

    Inside a request the rebuild runs in a background thread while the old model (or none)
    keeps serving; elsewhere (CLI, jobs) nobody waits on a page, so it runs here and now.
    """
    store = model_store()
    if store.needs_rebuild(watermark, current_app.config["RECOMMENDER_REBUILD_AFTER"]):
        if has_request_context():
            store.rebuild_in_background(current_app._get_current_object())  # type: ignore[attr-defined]
        else:
            store.rebuild_now(db.session)
    return store.model


def _aligned_similarity(
    state: _EngineState, catalogue: Catalogue, model: ItemModel | None
) -> sp.csr_matrix | None:
    if model is None:
        return None
    cached = state.aligned
    if cached is not None and cached[0] == model.version and cached[1] == catalogue.version:
        return cached[2]
    aligned = align_similarity(model, catalogue)
    state.aligned = (model.version, catalogue.version, aligned)
    return aligned


@cache
def _user_signals_statement():  # type: ignore[no-untyped-def]
    """One UNION ALL statement: (kind, movie_id, rating) of everything the user told us.

    Built once (bound by the `user_id` parameter): building it costs more than running it.
    """
    user_id = bindparam("user_id", type_=Integer)
    dismissed_feedback = ("dislike", "not_interested")
    return union_all(
        select(literal(_FAVOURITE), Favorite.movie_id, literal(0)).where(
            Favorite.user_id == user_id
        ),
        select(literal(_RATING), Rating.movie_id, Rating.rating).where(Rating.user_id == user_id),
        select(literal(_DISMISSED), RecommendationFeedback.movie_id, literal(0)).where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.feedback_type.in_(dismissed_feedback),
        ),
        select(literal(_LIKED_FEEDBACK), RecommendationFeedback.movie_id, literal(0)).where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.feedback_type == "like",
        ),
        select(literal(_WATCHED), WatchHistory.movie_id, literal(0))
        .where(WatchHistory.user_id == user_id)
        .distinct(),
    )


@cache
def _profile_statement():  # type: ignore[no-untyped-def]
    return (
        select(User.id, UserProfile.favorite_genres, UserProfile.mature_content)
        .outerjoin(UserProfile, UserProfile.user_id == User.id)
        .where(User.id == bindparam("user_id", type_=Integer))
    )


def user_signals_from_rows(
    catalogue: Catalogue,
    rows: Sequence[tuple[int, int, int]],
    favourite_genre_tmdb_ids: Sequence[Any] = (),
    mature_content: bool = False,
) -> UserSignals:
    """Liked, excluded and profile genres in catalogue positions, from (kind, movie, rating)."""
    strength: dict[int, float] = {}  # movie id -> weight of its strongest positive signal
    order_key: dict[int, int] = {}  # movie id -> how strongly liked (for naming in explanations)
    excluded: set[int] = set()
    for kind, movie_id, rating in rows:
        if kind == _FAVOURITE or (kind == _RATING and rating >= LIKED_RATING):
            strength[movie_id] = 1.0
            order_key[movie_id] = max(
                order_key.get(movie_id, 0), 10 if kind == _FAVOURITE else rating
            )
            excluded.add(movie_id)
        elif kind == _RATING:
            excluded.add(movie_id)  # every rated movie, including rated below DISLIKED_RATING
        elif kind == _DISMISSED:
            excluded.add(movie_id)
        elif kind in (_WATCHED, _LIKED_FEEDBACK):
            strength.setdefault(movie_id, WEAK_POSITIVE)
            order_key.setdefault(movie_id, 1)
            if kind == _WATCHED:
                excluded.add(movie_id)
    liked_ids = sorted(strength, key=lambda movie_id: (-order_key[movie_id], movie_id))
    positions = catalogue.positions(liked_ids)
    known = positions >= 0
    excluded_positions = catalogue.positions(sorted(excluded))
    genre_position = {int(tmdb_id): pos for pos, tmdb_id in enumerate(catalogue.genre_tmdb_ids)}
    favourite_genres = sorted(
        {
            genre_position[int(genre)]
            for genre in favourite_genre_tmdb_ids or ()
            if isinstance(genre, int) and not isinstance(genre, bool) and genre in genre_position
        }
    )
    return UserSignals(
        liked=positions[known],
        liked_weight=np.array([strength[m] for m in liked_ids], dtype=np.float64)[known],
        excluded=excluded_positions[excluded_positions >= 0],
        favourite_genres=np.asarray(favourite_genres, dtype=np.int64),
        mature_content=mature_content,
    )


def load_user_signals(user_id: int, catalogue: Catalogue) -> UserSignals:
    """Two queries: the user's profile, and everything they liked, rated, dismissed or saw."""
    parameters = {"user_id": user_id}
    profile = db.session.execute(_profile_statement(), parameters).one_or_none()
    if profile is None:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    rows = db.session.execute(_user_signals_statement(), parameters).tuples().all()
    return user_signals_from_rows(
        catalogue,
        rows,
        favourite_genre_tmdb_ids=profile.favorite_genres or (),
        mature_content=bool(profile.mature_content),
    )


def today_utc() -> date:
    return datetime.now(UTC).date()


def recommend_for_user(user_id: int, limit: int = 20) -> list[RecommendedMovie]:
    """Score the whole catalogue for one user; diversified, padded, cold start handled.

    Reads the database (a fixed handful of queries whatever the catalogue size), writes
    nothing. Raises NotFound for an unknown user.
    """
    state = _state()
    catalogue, watermark = _current_catalogue(state)
    similarity = _aligned_similarity(state, catalogue, _current_model(watermark))
    user = load_user_signals(user_id, catalogue)
    weights = Weights.from_config(current_app.config)
    return rank_for_user(catalogue, user, weights, today_utc(), limit, similarity)


def _overview_vectors(state: _EngineState, catalogue: Catalogue) -> sp.csr_matrix:
    cached = state.overviews
    if cached is not None and cached[0] == catalogue.version:
        return cached[1]
    texts = dict(
        db.session.execute(select(Movie.id, Movie.overview).where(Movie.deleted_at.is_(None)))
        .tuples()
        .all()
    )
    vectors = build_overview_vectors([texts.get(int(m)) or "" for m in catalogue.movie_ids])
    state.overviews = (catalogue.version, vectors)
    return vectors


def similar_movies(movie_id: int, limit: int = 10) -> list[RecommendedMovie]:
    """Movies like this one: learned item similarity, genre overlap and overview text.

    Raises NotFound for an unknown (or removed) movie.
    """
    get_movie(movie_id)
    state = _state()
    catalogue, watermark = _current_catalogue(state)
    position = int(catalogue.positions([movie_id])[0])
    if position < 0:  # newer than the cached arrays: look again now
        catalogue, watermark = _current_catalogue(state, check=True)
        position = int(catalogue.positions([movie_id])[0])
    if position < 0:  # removed between the two queries
        raise NotFound(f"Movie {movie_id} does not exist.", code="movie_not_found")
    similarity = _aligned_similarity(state, catalogue, _current_model(watermark))
    vectors = _overview_vectors(state, catalogue)
    return rank_similar(catalogue, position, limit, similarity, vectors)


def rebuild_item_model() -> ItemModelStats:
    """Learn item-item similarity from every user's positive interactions now."""
    return model_store().rebuild_now(db.session).stats
