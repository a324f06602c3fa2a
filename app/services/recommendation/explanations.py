"""Why a film was recommended: the recommendation type and the sentence shown with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def liked_with_genre(context: ExplanationContext, genre: int) -> list[str]:
    catalogue, user = context.catalogue, context.user
    having = user.liked[catalogue.genre_matrix[user.liked, genre] > 0]
    return [catalogue.titles[p] for p in having[:NAMED_MOVIES]]


def most_similar_liked(context: ExplanationContext, position: int) -> list[str]:
    user = context.user
    if not context.liked_to_chosen.size:
        return []
    contribution = context.liked_to_chosen[:, context.column[position]]
    order = np.argsort(-contribution, kind="stable")
    best = [user.liked[i] for i in order[:NAMED_MOVIES] if contribution[i] > 0]
    return [context.catalogue.titles[p] for p in best]


def explain_personal(context: ExplanationContext, position: int) -> tuple[str, str]:
    """(recommendation_type, explanation) of a result chosen for the user's own signals."""
    weights, signals = context.weights, context.signals
    catalogue = context.catalogue
    genre_part = weights.genre * signals.genre[position]
    collaborative_part = weights.collaborative * signals.collaborative[position]
    genre = best_genre(context, position, context.profile)
    genre_name = catalogue.genre_names[genre] if genre >= 0 else ""
    if context.user.is_cold:
        return "content_based", f"Popular in {genre_name}"
    share = collaborative_part / (genre_part + collaborative_part)
    similar = most_similar_liked(context, position) if share > CONTENT_SHARE else []
    if similar and share >= COLLABORATIVE_SHARE:
        return "collaborative", f"Because you liked {join_names(similar)}"
    if similar and genre_name:
        return "hybrid", f"Because you liked {join_names(similar)}, and you enjoy {genre_name}"
    liked = liked_with_genre(context, genre) if genre >= 0 else []
    if liked:
        return "content_based", f"Because you like {genre_name} films such as {join_names(liked)}"
    if similar:
        return "collaborative", f"Because you liked {join_names(similar)}"
    return "content_based", "Matches your favourite genres"


def explain_padding(context: ExplanationContext, position: int) -> str:
    quality = context.signals.quality[position]
    new = context.signals.recency[position] > 0.5
    if quality >= HIGHLY_RATED and new:
        return "Highly rated and new"
    if quality >= HIGHLY_RATED:
        return "Highly rated"
    if new:
        return "New and popular"
    return "Popular right now"
