"""RP3beta (Paudel et al., 2017): item-to-item weights from a three-step random walk
item -> user -> item on the interaction graph, divided by the target's popularity^beta.

Pure numpy/scipy, the same output as the EASE model: item x item, each row's strongest
neighbours, scaled so the largest weight is 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.item_model import (
    interaction_matrix,
    most_interacted_items,
    strongest_neighbours,
)


def learn_rp3beta_similarity(
    user_index: np.ndarray,
    item_index: np.ndarray,
    n_items: int,
    *,
    alpha: float,
    beta: float,
    neighbours: int,
    max_items: int,
    values: np.ndarray | None = None,
) -> sp.csr_matrix:
    """W[i, j] = sum over users u of P(u | i)^alpha P(j | u)^alpha / popularity(j)^beta.

    P(u | i) and P(j | u) are the row-normalised interaction weights: the walk from item i to
    one of its users, then to one of that user's items. alpha sharpens (>1) or flattens (<1)
    the steps; beta (0..1) lowers the weight of popular targets, the model's own lever on
    catalogue coverage.
    """
    interactions = interaction_matrix(user_index, item_index, n_items, values)
    active = most_interacted_items(interactions, max_items)
    if active.size < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    kept = sp.csr_matrix(interactions[:, active])
    user_to_item = _row_normalised(kept)
    item_to_user = _row_normalised(sp.csr_matrix(kept.T))
    if alpha != 1.0:
        user_to_item = user_to_item.power(alpha)
        item_to_user = item_to_user.power(alpha)
    weights = (item_to_user @ user_to_item).toarray()
    popularity = np.diff(kept.tocsc().indptr).astype(np.float64)
    weights /= np.power(np.maximum(popularity, 1.0), beta)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return strongest_neighbours(weights, active, n_items, neighbours)


def _row_normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(inverse) @ matrix)
