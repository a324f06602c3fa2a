"""Implicit-feedback ALS (Hu, Koren and Volinsky, 2008) through the `implicit` library,
folded into item-to-item weights so it serves through the same pipeline as EASE.

A user's factors from the item factors Y and their interactions p (ridge fold-in) are
x = (Y'Y + lambda I)^-1 Y' p, so their scores are p Y (Y'Y + lambda I)^-1 Y': a linear
item-to-item model S = Y (Y'Y + lambda I)^-1 Y', kept as each row's strongest neighbours.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.item_model import interaction_matrix, most_interacted_items

# Confidence of an interaction: 1 + ALPHA x its weight (Hu et al.'s c = 1 + alpha r).
CONFIDENCE_ALPHA = 20.0
# Rows of the dense item x item product computed at once (memory: block x items floats).
BLOCK_ROWS = 512
SEED = 42


def item_factors(
    interactions: sp.csr_matrix, *, factors: int, regularization: float, iterations: int
) -> np.ndarray:
    """The item factors (items x factors) that implicit's CPU ALS learns, single-threaded
    and seeded, so a run is reproducible and shares the CPU fairly."""
    from implicit.cpu.als import AlternatingLeastSquares  # a heavy import, needed here only

    model = AlternatingLeastSquares(
        factors=factors,
        regularization=regularization,
        alpha=CONFIDENCE_ALPHA,
        iterations=iterations,
        random_state=SEED,
        num_threads=1,
        calculate_training_loss=False,
    )
    model.fit(sp.csr_matrix(interactions, dtype=np.float32), show_progress=False)
    return np.asarray(model.item_factors, dtype=np.float64)


def learn_als_similarity(
    user_index: np.ndarray,
    item_index: np.ndarray,
    n_items: int,
    *,
    factors: int,
    regularization: float,
    iterations: int,
    neighbours: int,
    max_items: int,
    values: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Item-to-item weights S = Y (Y'Y + lambda I)^-1 Y' from ALS item factors Y."""
    interactions = interaction_matrix(user_index, item_index, n_items, values)
    active = most_interacted_items(interactions, max_items)
    if active.size < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    kept = sp.csr_matrix(interactions[:, active])
    factors = min(factors, active.size)
    y = item_factors(kept, factors=factors, regularization=regularization, iterations=iterations)
    projection = np.linalg.solve(
        y.T @ y + regularization * np.eye(y.shape[1]), y.T
    )  # factors x items
    keep = min(neighbours, active.size - 1)
    blocks = []
    for start in range(0, active.size, BLOCK_ROWS):
        block = y[start : start + BLOCK_ROWS] @ projection
        rows = np.arange(start, start + block.shape[0])
        block[rows - start, rows] = 0.0
        blocks.append(strongest_neighbours_block(block, keep))
    top, weights = np.vstack([b[0] for b in blocks]), np.vstack([b[1] for b in blocks])
    np.maximum(weights, 0.0, out=weights)
    similarity = sp.csr_matrix(
        (weights.ravel(), (np.repeat(active, keep), active[top.ravel()])),
        shape=(n_items, n_items),
        dtype=np.float64,
    )
    similarity.eliminate_zeros()
    if similarity.nnz:
        similarity.data /= similarity.data.max()
    return sp.csr_matrix(similarity, dtype=np.float32)


def strongest_neighbours_block(block: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's `keep` largest entries."""
    top = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
    return top, np.take_along_axis(block, top, axis=1)
