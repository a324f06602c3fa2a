"""Ranking and diversity, and the engine end to end on arrays (`rank_for_user`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.explanations import (
    explain_padding,
    explain_personal,
    explanation_context,
    personal_types,
)
from app.services.recommendation.filters import RecommendationFilters, filter_mask
from app.services.recommendation.scoring import Weights, padding_scores, score_candidates
from app.services.recommendation.signals import (
    UserSignals,
    candidate_mask,
    compute_signals,
)

# At most this many consecutive results share their top genre.
MAX_SAME_GENRE_RUN = 3


@dataclass(frozen=True)
class ServingSettings:
    """How a user's own signals are read when ranking (both chosen by the tuner).

    `graded_seeds`: a liked rating seeds the model by its value ((rating - 4) / 6: 7 -> 0.5,
    10 -> 1; a favourite 1) instead of 1 for every liked film. `released_only`: films
    released after "today" are not candidates (nobody can watch them yet).

    `exposure_depth` and `exposure_strength` re-rank a user's best `exposure_depth` personal
    films by score minus `exposure_strength` x the best score x the film's exposure (0..1:
    how often the model puts it in users' lists, recommendation.exposure), so the films that
    crowd everyone's lists give way to the next ones of this user's own. Films further down
    never overtake them. 0: off.
    """

    graded_seeds: bool = False
    released_only: bool = False
    exposure_depth: int = 0
    exposure_strength: float = 0.0

    def __post_init__(self) -> None:
        if self.exposure_depth < 0 or not 0 <= self.exposure_strength <= 1:
            raise ValueError("exposure_depth must be >= 0 and exposure_strength within 0..1")

    @property
    def reranks_by_exposure(self) -> bool:
        return self.exposure_depth > 0 and self.exposure_strength > 0


DEFAULT_SERVING = ServingSettings()


@dataclass(frozen=True)
class RecommendedMovie:
    movie_id: int
    score: float
    confidence: float
    recommendation_type: str
    explanation: str
    # The explanation's structured form, by contribution (see recommendation.explanations).
    reasons: tuple[dict[str, Any], ...] = ()


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


@dataclass(frozen=True, eq=False)
class ExposureRerank:
    """A re-rank of a user's best personal films by exposure (see ServingSettings):
    `signal` is each catalogue position's exposure, 0..1."""

    signal: np.ndarray
    depth: int
    strength: float


def rerank_by_exposure(
    scores: np.ndarray, eligible: np.ndarray, rerank: ExposureRerank, movie_ids: np.ndarray
) -> np.ndarray:
    """Ranking keys for the `eligible` positions: the best `depth` of them by score get
    score - strength x best score x exposure; the rest score - strength x best score, so none
    of them overtakes a re-ranked one and their own order is kept. Others are unchanged."""
    positions = np.flatnonzero(eligible)
    if positions.size == 0 or rerank.depth <= 0 or rerank.strength <= 0:
        return scores
    top = rank_positions(positions, scores, movie_ids, rerank.depth)[: rerank.depth]
    best = float(scores[top[0]])
    penalty = np.ones(scores.size)
    penalty[top] = rerank.signal[top]
    keys = scores.astype(np.float64, copy=True)
    keys[positions] -= rerank.strength * best * penalty[positions]
    return keys


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


@dataclass(frozen=True)
class Pool:
    """What a list is ranked from: the `personal` movies (a mask over catalogue positions)
    by `scores`, then the `padding` ones by `padding_score`."""

    personal: np.ndarray
    padding: np.ndarray
    scores: np.ndarray
    padding_score: np.ndarray

    def ranked(self, movie_ids: np.ndarray) -> np.ndarray:
        """Every personal position by score, then every padding one by padding score."""
        return np.concatenate(
            [
                rank_positions(np.nonzero(self.personal)[0], self.scores, movie_ids),
                rank_positions(np.nonzero(self.padding)[0], self.padding_score, movie_ids),
            ]
        )


def rank_and_diversify(
    catalogue: Catalogue, pool: Pool, limit: int, max_run: int = MAX_SAME_GENRE_RUN
) -> list[int]:
    """The pool ranked (personal movies first), walked by `diversify` down to `limit`
    positions."""
    personal_positions = np.nonzero(pool.personal)[0]
    padding_positions = np.nonzero(pool.padding)[0]
    # Sorting the best few hundred is enough unless the diversity walk needs more: then it
    # would have taken padding before a personal movie further down, or come up short.
    window = max(limit * 25, 500)
    personal_ranked = rank_positions(personal_positions, pool.scores, catalogue.movie_ids, window)
    padding_ranked = rank_positions(
        padding_positions, pool.padding_score, catalogue.movie_ids, window
    )
    chosen = diversify(
        np.concatenate([personal_ranked, padding_ranked]), catalogue.top_genre, limit, max_run
    )
    cut_personal = personal_ranked.size < personal_positions.size
    cut_padding = padding_ranked.size < padding_positions.size
    if (cut_personal and not pool.personal[chosen].all()) or (
        len(chosen) < limit and (cut_personal or cut_padding)
    ):
        chosen = diversify(pool.ranked(catalogue.movie_ids), catalogue.top_genre, limit, max_run)
    return chosen


def fill_up(chosen: list[int], ranked: np.ndarray, limit: int) -> list[int]:
    """`chosen`, then the best of the other `ranked` positions, to `limit`."""
    taken = set(chosen)
    rest = [int(position) for position in ranked if int(position) not in taken]
    return chosen + rest[: limit - len(chosen)]


@dataclass(frozen=True)
class Ranking:
    """The results of `rank_for_user`, and how many candidates passed the filters."""

    results: list[RecommendedMovie]
    matched: int  # candidates that passed the filters (the results are the best of them)


def rank_for_user(
    catalogue: Catalogue,
    user: UserSignals,
    weights: Weights,
    today: date,
    limit: int,
    similarity: sp.csr_matrix | None = None,
    filters: RecommendationFilters | None = None,
    *,
    max_same_genre_run: int = MAX_SAME_GENRE_RUN,
    released_only: bool = False,
    exposure: ExposureRerank | None = None,
) -> Ranking:
    """The engine end to end on arrays: score, rank, pad, diversify and explain, over the
    candidates that pass `filters`, and how many did (with `released_only`, never a film
    released after `today`; with `exposure`, the best personal films re-ranked by
    `rerank_by_exposure`).

    Movies the user's own signals reach (genre affinity or learned similarity; for a cold user
    the profile's favourite genres) come first by score; the rest pad the list, popular and
    well rated first. `similarity` is the item model aligned to catalogue positions.

    The signals (and so every score, type and sentence) are those of the unfiltered list:
    the filters only choose among its candidates, before ranking and truncation.
    """
    filters = filters or RecommendationFilters()
    if catalogue.size == 0:
        return Ranking([], 0)
    # The signals: what may be recommended, and every 0..1 signal for every movie.
    candidates = candidate_mask(
        catalogue,
        user,
        exclude_watched=filters.exclude_watched,
        exclude_watchlisted=filters.exclude_watchlisted,
    )
    if released_only:
        candidates &= ~(catalogue.release_day > today.toordinal())  # NaN (unknown) stays
    signals = compute_signals(catalogue, user, candidates, today, similarity)
    # Score: movies the user's own signals reach by the weighted sum, the others (padding)
    # by quality and popularity.
    scores = score_candidates(signals, weights)
    personal = candidates & (
        (weights.genre * signals.genre > 0) | (weights.collaborative * signals.collaborative > 0)
    )
    padding = padding_scores(signals, weights)
    # Filter, then rank (personal first, then padding) and diversify.
    wanted = candidates & filter_mask(catalogue, filters)
    if filters.recommendation_type is not None:
        kinds = np.where(personal, personal_types(catalogue, user, signals, weights), "trending")
        wanted &= kinds == filters.recommendation_type
    matched = int(wanted.sum())
    if limit <= 0:
        return Ranking([], matched)
    ranking_keys = scores
    if exposure is not None:
        ranking_keys = rerank_by_exposure(scores, wanted & personal, exposure, catalogue.movie_ids)
    pool = Pool(wanted & personal, wanted & ~personal, ranking_keys, padding)
    chosen = rank_and_diversify(catalogue, pool, limit, max_same_genre_run)
    if filters.narrows and len(chosen) < min(limit, matched):
        # A filter can leave too few genres for the diversity rule (one genre: 3 films);
        # the user asked for these films, so the rest follow in rank order.
        chosen = fill_up(chosen, pool.ranked(catalogue.movie_ids), limit)
    # Explain each result.
    context = explanation_context(catalogue, user, signals, weights, chosen, similarity)
    results = []
    for position in chosen:
        if personal[position]:
            explanation = explain_personal(context, position)
            score = float(scores[position])
            confidence = score / weights.total
        else:
            explanation = explain_padding(context, position)
            score = float(padding[position])
            confidence = score / 2
        results.append(
            RecommendedMovie(
                movie_id=int(catalogue.movie_ids[position]),
                score=round(score, 4),
                confidence=round(min(max(confidence, 0.0), 1.0), 4),
                recommendation_type=explanation.recommendation_type,
                explanation=explanation.sentence,
                reasons=explanation.reasons,
            )
        )
    return Ranking(results, matched)
