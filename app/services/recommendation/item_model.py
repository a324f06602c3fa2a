"""The learned item-to-item model behind the collaborative signal, and its alignment to the
catalogue's positions. EASE by default; RP3beta and implicit ALS (folded into item-to-item
weights) are the other families the tuner (recommendation.tuning) may choose.

Items are keyed by TMDb id (stable across catalogue reloads and databases). A model is
learned from the positive interactions (favourites and ratings of 7 or more) by a training
run (never on a request's path) and stored as an immutable version (`to_bytes`/`from_bytes`
are its binary form); web workers load it.
"""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.exposure import ItemExposure
from app.services.recommendation.ranking import (
    DEFAULT_SERVING,
    MAX_SAME_GENRE_RUN,
    ServingSettings,
)
from app.services.recommendation.scoring import Weights

# Neighbours kept per item: enough for recall, small enough to score a user in microseconds.
NEIGHBOURS = 100
# EASE's L2 regularisation (chosen on MovieLens; 100 to 500 score within 2% of each other).
L2_REGULARISATION = 200.0
# Items taking part in the model, the most-liked first: the dense inverse grows as its square.
MAX_ITEMS = 2500
ALGORITHM = "ease"


FAMILIES = ("ease", "rp3beta", "als")
# The settings each family's learner takes, by the same names.
FAMILY_PARAMETERS = {
    "ease": ("max_items", "l2", "neighbours"),
    "rp3beta": ("alpha", "beta", "neighbours", "max_items"),
    "als": ("factors", "regularization", "iterations", "neighbours", "max_items"),
}


@dataclass(frozen=True)
class ModelSettings:
    """Which model family learns the item-to-item weights, with what parameters.

    `popularity_exponent` re-weights each target item by (1 + its interactions)^-exponent: a
    positive value penalises popular items (wider coverage), a negative one boosts them.
    `sequence_mix` (0..1) blends in what people liked next (recommendation.sequence, over
    `sequence_window` steps): (1 - mix) x the family's weights + mix x the sequence's.
    """

    family: str = "ease"
    max_items: int = MAX_ITEMS
    neighbours: int = NEIGHBOURS
    l2: float = L2_REGULARISATION  # EASE
    alpha: float = 1.0  # RP3beta
    beta: float = 0.5  # RP3beta
    factors: int = 64  # ALS
    regularization: float = 0.05  # ALS
    iterations: int = 15  # ALS
    popularity_exponent: float = 0.0
    sequence_mix: float = 0.0
    sequence_window: int = 50

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown item model family {self.family!r}")
        if self.max_items < 2 or self.neighbours < 1 or self.factors < 1 or self.iterations < 1:
            raise ValueError("max_items, neighbours, factors and iterations must be positive")
        if not 0 <= self.sequence_mix <= 1 or self.sequence_window < 1:
            raise ValueError("sequence_mix must be within 0..1 and sequence_window positive")

    def family_parameters(self) -> dict[str, Any]:
        """The keyword arguments of this family's learner."""
        return {name: getattr(self, name) for name in FAMILY_PARAMETERS[self.family]}


DEFAULT_MODEL_SETTINGS = ModelSettings()


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
    settings: ModelSettings = DEFAULT_MODEL_SETTINGS
    # How the model's recommendations are blended and diversified when a tuned configuration
    # trained it (None: the app's configured weights).
    weights: Weights | None = None
    max_same_genre_run: int = MAX_SAME_GENRE_RUN
    serving: ServingSettings = DEFAULT_SERVING
    # How often each film reached users' lists when the model was trained (None: not
    # counted; only a configuration with the exposure re-rank needs it).
    exposure: ItemExposure | None = None
    version: int = field(default_factory=lambda: next(_versions))


def learn_item_similarity(
    user_index: np.ndarray,
    item_index: np.ndarray,
    n_items: int,
    *,
    max_items: int = MAX_ITEMS,
    l2: float = L2_REGULARISATION,
    neighbours: int = NEIGHBOURS,
    values: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Item-to-item weights learned with EASE (Steck, 2019) from (user, item) positive pairs.

    B = argmin ||X - XB||^2 + l2 ||B||^2 with a zero diagonal, in closed form from the inverse
    of the regularised Gram matrix. Only the `max_items` items with the most interactions take
    part (the inverse is dense: 2,500 items cost about 50 MB and a second or two). Negative
    weights are dropped, each row keeps its `neighbours` strongest, and the whole matrix is
    scaled so its largest weight is 1. Row i holds how much liking item i says about the others.
    `values` weighs each pair (default 1; a repeated pair keeps its largest value).
    """
    interactions = interaction_matrix(user_index, item_index, n_items, values)
    active = most_interacted_items(interactions, max_items)
    if active.size < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    kept = interactions[:, active]
    gram = (kept.T @ kept).toarray()
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return strongest_neighbours(weights, active, n_items, neighbours)


def interaction_matrix(
    user_index: np.ndarray,
    item_index: np.ndarray,
    n_items: int,
    values: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Users x items (users compacted), one entry per pair: its value, the largest if repeated."""
    user_index = np.asarray(user_index, dtype=np.int64)
    item_index = np.asarray(item_index, dtype=np.int64)
    if user_index.size == 0:
        return sp.csr_matrix((0, n_items), dtype=np.float64)
    weights = np.ones(user_index.size) if values is None else np.asarray(values, np.float64)
    _, compact_users = np.unique(user_index, return_inverse=True)
    # The largest value of a repeated pair: sort by value, keep the last of each pair.
    order = np.lexsort((weights, item_index, compact_users))
    users, items, weights = compact_users[order], item_index[order], weights[order]
    last = np.r_[(users[1:] != users[:-1]) | (items[1:] != items[:-1]), True]
    keep = last & (weights > 0)
    return sp.csr_matrix(
        (weights[keep], (users[keep], items[keep])),
        shape=(int(compact_users.max()) + 1, n_items),
    )


def most_interacted_items(interactions: sp.csr_matrix, max_items: int) -> np.ndarray:
    """Positions of the items with interactions, at most `max_items` of the most interacted
    (ties by position, so the choice is reproducible), sorted."""
    support = np.diff(interactions.tocsc().indptr)
    active = np.flatnonzero(support > 0)
    if active.size > max_items:
        active = np.sort(active[np.lexsort((active, -support[active]))[:max_items]])
    return active


def strongest_neighbours(
    weights: np.ndarray, active: np.ndarray, n_items: int, neighbours: int
) -> sp.csr_matrix:
    """n_items x n_items float32 from dense weights among `active` items: negatives dropped,
    each row's `neighbours` strongest kept, scaled so the largest weight is 1."""
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


def keep_strongest_per_row(similarity: sp.csr_matrix, neighbours: int) -> sp.csr_matrix:
    """float32 copy of a sparse item x item matrix: negatives dropped, each row's
    `neighbours` largest kept (ties by column), scaled so the largest weight is 1."""
    matrix = sp.csr_matrix(similarity, dtype=np.float64)
    matrix.data = np.maximum(matrix.data, 0.0)
    matrix.eliminate_zeros()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(order.size) - matrix.indptr[rows[order]]
    keep = order[rank < neighbours]
    kept = sp.csr_matrix(
        (matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape
    )
    if kept.nnz:
        kept.data /= kept.data.max()
    return sp.csr_matrix(kept, dtype=np.float32)


def learn_similarity(
    settings: ModelSettings,
    user_index: np.ndarray,
    item_index: np.ndarray,
    n_items: int,
    values: np.ndarray | None = None,
    timestamps: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Item-to-item weights of the family `settings` names, blended with the sequence model
    when `settings.sequence_mix` > 0 (which needs each interaction's `timestamps`), then
    popularity re-weighted."""
    similarity = learn_family_similarity(settings, user_index, item_index, n_items, values)
    if settings.sequence_mix > 0:
        # Imported here: the sequence model imports this module's helpers.
        from app.services.recommendation.sequence import learn_sequence_similarity

        if timestamps is None:
            raise ValueError("a sequence_mix needs the interactions' timestamps")
        sequence = learn_sequence_similarity(
            user_index,
            item_index,
            timestamps,
            n_items,
            window=settings.sequence_window,
            neighbours=settings.neighbours,
            values=values,
        )
        mix = settings.sequence_mix
        similarity = keep_strongest_per_row(
            (1 - mix) * similarity.astype(np.float64) + mix * sequence.astype(np.float64),
            settings.neighbours,
        )
    return reweight_by_popularity(similarity, item_index, settings.popularity_exponent)


def learn_family_similarity(
    settings: ModelSettings,
    user_index: np.ndarray,
    item_index: np.ndarray,
    n_items: int,
    values: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Item-to-item weights of the family `settings` names (EASE, RP3beta or ALS)."""
    # Imported here: the families import this module's helpers.
    from app.services.recommendation.als import learn_als_similarity
    from app.services.recommendation.rp3beta import learn_rp3beta_similarity

    learners: dict[str, Callable[..., sp.csr_matrix]] = {
        "ease": learn_item_similarity,
        "rp3beta": learn_rp3beta_similarity,
        "als": learn_als_similarity,
    }
    learn = learners[settings.family]
    return learn(user_index, item_index, n_items, values=values, **settings.family_parameters())


def reweight_by_popularity(
    similarity: sp.csr_matrix, item_index: np.ndarray, exponent: float
) -> sp.csr_matrix:
    """Each column (target item) times (1 + its interactions)^-exponent, rescaled to max 1."""
    if exponent == 0 or similarity.nnz == 0:
        return similarity
    counts = np.bincount(np.asarray(item_index, np.int64), minlength=similarity.shape[1])
    scale = np.power(1.0 + counts.astype(np.float64), -exponent)
    weighted = sp.csr_matrix(similarity.astype(np.float64) @ sp.diags(scale))
    weighted.eliminate_zeros()
    if weighted.nnz:
        weighted.data /= weighted.data.max()
    return sp.csr_matrix(weighted, dtype=np.float32)


def learn_item_model(
    user_ids: np.ndarray,
    item_keys: np.ndarray,
    *,
    watermark: int = 0,
    settings: ModelSettings = DEFAULT_MODEL_SETTINGS,
    values: np.ndarray | None = None,
    weights: Weights | None = None,
    max_same_genre_run: int = MAX_SAME_GENRE_RUN,
    timestamps: np.ndarray | None = None,
    serving: ServingSettings = DEFAULT_SERVING,
) -> ItemModel:
    """Learn a model from parallel arrays of (user id, item key) interactions, each weighted
    by `values` (default 1) and made at `timestamps` (needed by a sequence mix), with the
    family and parameters of `settings`."""
    started = time.perf_counter()
    user_ids = np.asarray(user_ids, dtype=np.int64)
    item_keys = np.asarray(item_keys, dtype=np.int64)
    keys, item_index = np.unique(item_keys, return_inverse=True)
    similarity = learn_similarity(settings, user_ids, item_index, keys.size, values, timestamps)
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
        settings=settings,
        weights=weights,
        max_same_genre_run=max_same_genre_run,
        serving=serving,
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
    """The model's item keys and sparse weights as a compressed numpy .npz (CSR arrays), with
    its exposure counts when it has them."""
    similarity = model.similarity.tocsr()
    similarity.sort_indices()
    arrays: dict[str, Any] = {
        "keys": model.keys.astype(np.int64),
        "indptr": similarity.indptr.astype(np.int32),
        "indices": similarity.indices.astype(np.int32),
        "data": similarity.data.astype(np.float32),
    }
    if model.exposure is not None:
        arrays["exposure_keys"] = model.exposure.keys.astype(np.int64)
        arrays["exposure_counts"] = model.exposure.counts.astype(np.float64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
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
        exposure = None
        if "exposure_keys" in arrays:
            exposure = ItemExposure(arrays["exposure_keys"], arrays["exposure_counts"])
    return ItemModel(
        keys=keys, similarity=similarity, stats=stats, watermark=watermark, exposure=exposure
    )
