"""What people liked next: item-to-item weights from the order of each user's positive
interactions, the sequence-aware neighbour of the co-occurrence models (in the spirit of
session-based item-kNN). A film liked soon after another says more about the next choice
than one liked years apart, which a co-occurrence model (EASE, RP3beta, ALS) cannot see.

Pure numpy/scipy, the same output as the other families: item x item, each row's strongest
neighbours, scaled so the largest weight is 1. `item_model.learn_similarity` blends it into
the chosen family's weights (`ModelSettings.sequence_mix`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.item_model import (
    interaction_matrix,
    keep_strongest_per_row,
)


def learn_sequence_similarity(
    user_index: np.ndarray,
    item_index: np.ndarray,
    timestamps: np.ndarray,
    n_items: int,
    *,
    window: int,
    neighbours: int,
    values: np.ndarray | None = None,
) -> sp.csr_matrix:
    """W[i, j] = sum over users of v_i v_j / d for each j they liked d = 1..`window` steps
    after i (in time, then item order), divided by sqrt(n_i n_j), n the items' interactions.

    Directed: what follows i, not what preceded it. The 1/d decay keeps the nearest steps
    strongest; the cosine-like division stops the most liked films from being everyone's
    next film. `values` weighs each interaction (default 1; a repeated pair counts once).
    """
    users = np.asarray(user_index, dtype=np.int64)
    items = np.asarray(item_index, dtype=np.int64)
    times = np.asarray(timestamps, dtype=np.int64)
    weights = np.ones(users.size) if values is None else np.asarray(values, np.float64)
    if users.size < 2 or window < 1:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    users, items, times, weights = _first_of_each_pair(users, items, times, weights)
    order = np.lexsort((items, times, users))
    users, items, weights = users[order], items[order], weights[order]
    rows, cols, data = [], [], []
    for step in range(1, min(window, users.size - 1) + 1):
        same_user = users[step:] == users[:-step]
        rows.append(items[:-step][same_user])
        cols.append(items[step:][same_user])
        data.append(weights[:-step][same_user] * weights[step:][same_user] / step)
    transitions = sp.csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
        dtype=np.float64,
    )
    transitions.setdiag(0.0)
    transitions.eliminate_zeros()
    support = np.diff(interaction_matrix(users, items, n_items).tocsc().indptr)
    scale = sp.diags(1.0 / np.sqrt(np.maximum(support, 1).astype(np.float64)))
    return keep_strongest_per_row(sp.csr_matrix(scale @ transitions @ scale), neighbours)


def _first_of_each_pair(
    users: np.ndarray, items: np.ndarray, times: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One interaction per (user, item), the earliest: a re-rating is not a new step."""
    order = np.lexsort((times, items, users))
    users, items, times, weights = users[order], items[order], times[order], weights[order]
    first = np.r_[True, (users[1:] != users[:-1]) | (items[1:] != items[:-1])]
    keep = first & (weights > 0)
    return users[keep], items[keep], times[keep], weights[keep]
