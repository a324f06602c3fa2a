"""The learned item-to-item model behind the collaborative signal (EASE), and its alignment
to the catalogue's positions.

Items are keyed by TMDb id (stable across catalogue reloads and databases). A model is
learned from the positive interactions (favourites and ratings of 7 or more) by a training
run (never on a request's path) and stored as an immutable version (`to_bytes`/`from_bytes`
are its binary form); web workers load it.
"""

from __future__ import annotations

import io
import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue

# Neighbours kept per item: enough for recall, small enough to score a user in microseconds.
NEIGHBOURS = 100
# EASE's L2 regularisation (chosen on MovieLens; 100 to 500 score within 2% of each other).
L2_REGULARISATION = 200.0
# Items taking part in the model, the most-liked first: the dense inverse grows as its square.
MAX_ITEMS = 2500
ALGORITHM = "ease"


# Model versions, so caches derived from a model know when it was replaced.
_versions = itertools.count(1)


@dataclass(frozen=True)
class ItemModelStats:
    items: int
    users: int
    interactions: int
    seconds: float


@dataclass(frozen=True)
class ItemModel:
    """Row i holds the similarity of item keys[i] to its nearest neighbours, each in 0..1."""

    keys: np.ndarray  # int64 item keys (TMDb ids), sorted
    similarity: sp.csr_matrix  # float32, len(keys) x len(keys), zero diagonal
    stats: ItemModelStats
    # The interaction watermark (see interaction_watermark) when the model was learned.
    watermark: int = 0
    version: int = field(default_factory=lambda: next(_versions))


def learn_item_similarity(
    user_index: np.ndarray,
    item_index: np.ndarray,
    n_items: int,
    *,
    max_items: int = MAX_ITEMS,
    l2: float = L2_REGULARISATION,
    neighbours: int = NEIGHBOURS,
) -> sp.csr_matrix:
    """Item-to-item weights learned with EASE (Steck, 2019) from (user, item) positive pairs.

    B = argmin ||X - XB||^2 + l2 ||B||^2 with a zero diagonal, in closed form from the inverse
    of the regularised Gram matrix. Only the `max_items` items with the most interactions take
    part (the inverse is dense: 2,500 items cost about 50 MB and a second or two). Negative
    weights are dropped, each row keeps its `neighbours` strongest, and the whole matrix is
    scaled so its largest weight is 1. Row i holds how much liking item i says about the others.
    """
    user_index = np.asarray(user_index, dtype=np.int64)
    item_index = np.asarray(item_index, dtype=np.int64)
    empty = sp.csr_matrix((n_items, n_items), dtype=np.float32)
    if user_index.size == 0 or n_items == 0:
        return empty
    users, compact_users = np.unique(user_index, return_inverse=True)
    interactions = sp.csr_matrix(
        (np.ones(user_index.size, dtype=np.float64), (compact_users, item_index)),
        shape=(users.size, n_items),
    )
    interactions.sum_duplicates()
    interactions.data[:] = 1.0
    support = np.asarray(interactions.sum(axis=0)).ravel()
    active = np.flatnonzero(support > 0)
    if active.size > max_items:
        # The most-liked items, ties by position so the choice is reproducible.
        active = np.sort(active[np.lexsort((active, -support[active]))[:max_items]])
    if active.size < 2:
        return empty
    kept = interactions[:, active]
    gram = (kept.T @ kept).toarray()
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    np.maximum(weights, 0.0, out=weights)
    keep = min(neighbours, active.size - 1)
    top = np.argpartition(-weights, keep - 1, axis=1)[:, :keep]
    values = np.take_along_axis(weights, top, axis=1)
    rows = np.repeat(active, keep)
    cols = active[top.ravel()]
    similarity = sp.csr_matrix(
        (values.ravel(), (rows, cols)), shape=(n_items, n_items), dtype=np.float64
    )
    similarity.eliminate_zeros()
    if similarity.nnz:
        similarity.data /= similarity.data.max()
    return sp.csr_matrix(similarity, dtype=np.float32)


def learn_item_model(
    user_ids: np.ndarray, item_keys: np.ndarray, *, watermark: int = 0
) -> ItemModel:
    """Learn a model from parallel arrays of (user id, item key) positive interactions."""
    started = time.perf_counter()
    user_ids = np.asarray(user_ids, dtype=np.int64)
    item_keys = np.asarray(item_keys, dtype=np.int64)
    keys, item_index = np.unique(item_keys, return_inverse=True)
    similarity = learn_item_similarity(user_ids, item_index, keys.size)
    stats = ItemModelStats(
        items=int(keys.size),
        users=int(np.unique(user_ids).size),
        interactions=int(user_ids.size),
        seconds=round(time.perf_counter() - started, 3),
    )
    return ItemModel(
        keys=keys,
        similarity=similarity,
        stats=stats,
        watermark=watermark,
    )


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


def model_parameters() -> dict[str, float | int]:
    """The parameters `learn_item_model` learns with, as stored beside each version."""
    return {"l2": L2_REGULARISATION, "neighbours": NEIGHBOURS, "max_items": MAX_ITEMS}


def to_bytes(model: ItemModel) -> bytes:
    """The model's item keys and sparse weights as a compressed numpy .npz (CSR arrays)."""
    similarity = model.similarity.tocsr()
    similarity.sort_indices()
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        keys=model.keys.astype(np.int64),
        indptr=similarity.indptr.astype(np.int32),
        indices=similarity.indices.astype(np.int32),
        data=similarity.data.astype(np.float32),
    )
    return buffer.getvalue()


def from_bytes(blob: bytes, stats: ItemModelStats, *, watermark: int = 0) -> ItemModel:
    """The model stored by `to_bytes` (stats and watermark come from its version's row)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
        keys = arrays["keys"]
        similarity = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]),
            shape=(keys.size, keys.size),
            dtype=np.float32,
        )
    return ItemModel(keys=keys, similarity=similarity, stats=stats, watermark=watermark)
