"""Movies like a given one: learned similarity, genre overlap and overview text (TF-IDF)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.explanations import (
    COLLABORATIVE_SHARE,
    CONTENT_SHARE,
    join_names,
)
from app.services.recommendation.ranking import RecommendedMovie, rank_positions

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
