"""Why a film was recommended: the recommendation type, the sentence shown with it and the
same reasons structured, ordered by contribution, for clients that draw "Because you liked"
chips:

    {"kind": "liked_movie", "movie": {"id", "title"}, "weight"}   a liked film it resembles
    {"kind": "genre", "genre": {"id", "name"}}                     a genre you like (TMDb id)
    {"kind": "popular" | "highly_rated" | "new"}                  why a padding film is there

Every reason is one the sentence states, and every film or genre the sentence names is a
reason. ("similar_users" is part of the vocabulary for a user-based model; the item model
names the liked films instead.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import Signals, UserSignals

# Liked movies named in an explanation.
NAMED_MOVIES = 2
# Shares of the personal part of a score that make a result collaborative / content based.
COLLABORATIVE_SHARE = 2 / 3
CONTENT_SHARE = 1 / 3
# Quality (0..1) from which a film counts as "highly rated" in explanations.
HIGHLY_RATED = 0.75

Reason = dict[str, Any]


@dataclass(frozen=True)
class Explanation:
    recommendation_type: str
    sentence: str
    reasons: tuple[Reason, ...]


def join_names(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


@dataclass(frozen=True, eq=False)
class ExplanationContext:
    catalogue: Catalogue
    user: UserSignals
    signals: Signals
    weights: Weights
    profile: np.ndarray
    # Weighted learned similarity of each liked movie (rows) to each chosen one (columns).
    liked_to_chosen: np.ndarray
    column: dict[int, int]


def explanation_context(
    catalogue: Catalogue,
    user: UserSignals,
    signals: Signals,
    weights: Weights,
    chosen: list[int],
    similarity: sp.csr_matrix | None,
) -> ExplanationContext:
    """What the explanations of the `chosen` positions need, computed once for the list."""
    if similarity is not None and user.liked.size and chosen:
        # One slice for the whole list: per-result sparse indexing costs more than the scoring.
        block = similarity[user.liked][:, chosen].toarray()
        liked_to_chosen = block * user.liked_weight[:, None]
    else:
        liked_to_chosen = np.empty((0, 0))
    column = {position: index for index, position in enumerate(chosen)}
    return ExplanationContext(
        catalogue, user, signals, weights, signals.profile, liked_to_chosen, column
    )


def best_genre(context: ExplanationContext, position: int, profile: np.ndarray) -> int:
    genres = np.nonzero(context.catalogue.genre_matrix[position])[0]
    if genres.size == 0:
        return -1
    return int(genres[np.argmax(profile[genres])])


def liked_with_genre(context: ExplanationContext, genre: int) -> list[tuple[int, float]]:
    """(position, weight) of the first liked films having `genre`, strongest liked first."""
    catalogue, user = context.catalogue, context.user
    having = np.flatnonzero(catalogue.genre_matrix[user.liked, genre] > 0)[:NAMED_MOVIES]
    return [(int(user.liked[i]), float(user.liked_weight[i])) for i in having]


def most_similar_liked(context: ExplanationContext, position: int) -> list[tuple[int, float]]:
    """(position, contribution) of the liked films that add most to this one's similarity."""
    user = context.user
    if not context.liked_to_chosen.size:
        return []
    contribution = context.liked_to_chosen[:, context.column[position]]
    order = np.argsort(-contribution, kind="stable")
    return [
        (int(user.liked[i]), float(contribution[i]))
        for i in order[:NAMED_MOVIES]
        if contribution[i] > 0
    ]


def liked_movie_reasons(
    context: ExplanationContext, movies: Sequence[tuple[int, float]]
) -> list[Reason]:
    catalogue = context.catalogue
    return [
        {
            "kind": "liked_movie",
            "movie": {"id": int(catalogue.movie_ids[p]), "title": catalogue.titles[p]},
            "weight": round(weight, 4),
        }
        for p, weight in movies
    ]


def genre_reason(context: ExplanationContext, genre: int) -> Reason:
    catalogue = context.catalogue
    return {
        "kind": "genre",
        "genre": {"id": int(catalogue.genre_tmdb_ids[genre]), "name": catalogue.genre_names[genre]},
    }


def titles(context: ExplanationContext, movies: Sequence[tuple[int, float]]) -> str:
    return join_names([context.catalogue.titles[p] for p, _ in movies])


def explain_personal(context: ExplanationContext, position: int) -> Explanation:
    """Type, sentence and reasons of a result chosen for the user's own signals."""
    weights, signals = context.weights, context.signals
    genre_part = weights.genre * signals.genre[position]
    collaborative_part = weights.collaborative * signals.collaborative[position]
    genre = best_genre(context, position, context.profile)
    genre_name = context.catalogue.genre_names[genre] if genre >= 0 else ""
    genres = [genre_reason(context, genre)] if genre >= 0 else []
    if context.user.is_cold:
        return Explanation(
            "content_based", f"Popular in {genre_name}", (*genres, {"kind": "popular"})
        )
    share = collaborative_part / (genre_part + collaborative_part)
    similar = most_similar_liked(context, position) if share > CONTENT_SHARE else []
    if similar and share >= COLLABORATIVE_SHARE:
        return Explanation(
            "collaborative",
            f"Because you liked {titles(context, similar)}",
            tuple(liked_movie_reasons(context, similar)),
        )
    if similar and genre_name:
        liked_first = collaborative_part >= genre_part
        movies = liked_movie_reasons(context, similar)
        return Explanation(
            "hybrid",
            f"Because you liked {titles(context, similar)}, and you enjoy {genre_name}",
            tuple(movies + genres if liked_first else genres + movies),
        )
    liked = liked_with_genre(context, genre) if genre >= 0 else []
    if liked:
        return Explanation(
            "content_based",
            f"Because you like {genre_name} films such as {titles(context, liked)}",
            (*genres, *liked_movie_reasons(context, liked)),
        )
    if similar:
        return Explanation(
            "collaborative",
            f"Because you liked {titles(context, similar)}",
            tuple(liked_movie_reasons(context, similar)),
        )
    return Explanation("content_based", "Matches your favourite genres", tuple(genres))


def personal_types(
    catalogue: Catalogue, user: UserSignals, signals: Signals, weights: Weights
) -> np.ndarray:
    """The type `explain_personal` gives each movie, for the whole catalogue at once (so a
    type filter applies before ranking). It depends only on the collaborative share of the
    personal score and on whether the movie has a genre: with non-negative similarities a
    share above CONTENT_SHARE means some liked film contributes (`similar` is not empty),
    and a share at most CONTENT_SHARE leaves a content-based sentence either way.
    """
    if user.is_cold:
        return np.full(catalogue.size, "content_based", dtype=object)
    genre_part = weights.genre * signals.genre
    collaborative_part = weights.collaborative * signals.collaborative
    total = genre_part + collaborative_part
    share = np.divide(collaborative_part, total, out=np.zeros(total.shape), where=total > 0)
    has_genre = np.asarray(catalogue.genre_matrix.any(axis=1), dtype=bool)
    kinds = np.full(catalogue.size, "content_based", dtype=object)
    kinds[share > CONTENT_SHARE] = np.where(
        has_genre[share > CONTENT_SHARE], "hybrid", "collaborative"
    )
    kinds[share >= COLLABORATIVE_SHARE] = "collaborative"
    return kinds


def explain_padding(context: ExplanationContext, position: int) -> Explanation:
    """Sentence and reasons of a film that pads the list (type "trending")."""
    quality = context.signals.quality[position]
    new = context.signals.recency[position] > 0.5
    kinds: tuple[str, ...]
    if quality >= HIGHLY_RATED and new:
        sentence, kinds = "Highly rated and new", ("highly_rated", "new")
    elif quality >= HIGHLY_RATED:
        sentence, kinds = "Highly rated", ("highly_rated",)
    elif new:
        sentence, kinds = "New and popular", ("new", "popular")
    else:
        sentence, kinds = "Popular right now", ("popular",)
    return Explanation("trending", sentence, tuple({"kind": kind} for kind in kinds))
