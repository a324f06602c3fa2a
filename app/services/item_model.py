"""The learned item-to-item model behind the collaborative signal, and its in-process cache.

Items are keyed by TMDb id (stable across catalogue reloads and databases). The model is
derived data: it is rebuilt from the positive interactions (favourites and ratings of 7 or
more) whenever enough new ones arrive, never persisted, never rebuilt on a request's path.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from flask import Flask, current_app
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session, scoped_session

from app.extensions import db
from app.models import Favorite, Movie, Rating

logger = logging.getLogger(__name__)

# A rating at or above this (1-10 scale) is a positive interaction: "liked".
LIKED_RATING = 7
# Neighbours kept per item: enough for recall, small enough to score a user in microseconds.
NEIGHBOURS = 100
# EASE's L2 regularisation (chosen on MovieLens; 100 to 500 score within 2% of each other).
L2_REGULARISATION = 200.0
# Items taking part in the model, the most-liked first: the dense inverse grows as its square.
MAX_ITEMS = 2500


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


def positive_interactions_statement():  # type: ignore[no-untyped-def]
    """(user_id, tmdb_id) of every favourite and every rating of LIKED_RATING or more."""
    favourites = select(Favorite.user_id, Movie.tmdb_id).join(Movie, Movie.id == Favorite.movie_id)
    liked = (
        select(Rating.user_id, Movie.tmdb_id)
        .join(Movie, Movie.id == Rating.movie_id)
        .where(Rating.rating >= LIKED_RATING)
    )
    return union_all(favourites, liked)


def interaction_watermark():  # type: ignore[no-untyped-def]
    """The largest favourite id plus the largest rating id: two index lookups.

    It grows by one with every favourite or rating added, so the distance between two readings
    counts the interactions added in between (the rebuild policy); a fall means rows the model
    was learned from are gone.
    """
    favourites = select(func.coalesce(func.max(Favorite.id), 0)).scalar_subquery()
    ratings = select(func.coalesce(func.max(Rating.id), 0)).scalar_subquery()
    return favourites + ratings


def load_and_learn(session: Session | scoped_session[Any]) -> ItemModel:
    """Read every positive interaction through `session` and learn the model from them."""
    watermark = int(session.scalar(select(interaction_watermark())) or 0)
    pairs = np.array(session.execute(positive_interactions_statement()).all(), dtype=np.int64)
    if pairs.size == 0:
        return learn_item_model(np.empty(0), np.empty(0), watermark=watermark)
    return learn_item_model(pairs[:, 0], pairs[:, 1], watermark=watermark)


class ItemModelStore:
    """The process's current model: replaced whole, rebuilt by one builder at a time."""

    def __init__(self) -> None:
        self.model: ItemModel | None = None
        self._build_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def rebuild_now(self, session: Session | scoped_session[Any]) -> ItemModel:
        """Learn a model through `session` (waiting for a build under way) and install it."""
        with self._build_lock:
            model = load_and_learn(session)
            self.model = model
        logger.info("item model rebuilt: %s", model.stats)
        return model

    def needs_rebuild(self, watermark: int, rebuild_after: int) -> bool:
        """No model yet, or `rebuild_after` interactions added (or removed) since it was learned."""
        model = self.model
        return model is None or abs(watermark - model.watermark) >= max(rebuild_after, 1)

    def rebuild_in_background(self, app: Flask) -> bool:
        """Start a rebuild in a thread unless one is running; the old model keeps serving."""
        if not self._build_lock.acquire(blocking=False):
            return False
        try:
            thread = threading.Thread(
                target=self._background_build,
                args=(app,),
                name="item-model-rebuild",
                daemon=True,  # derived data only: losing a half-built model loses nothing
            )
            self._thread = thread
            thread.start()
        except BaseException:
            self._build_lock.release()
            raise
        return True

    def _background_build(self, app: Flask) -> None:
        try:
            with app.app_context():
                # Its own session: never the request's (or a test's) connection.
                with Session(db.engine) as session:
                    model = load_and_learn(session)
                self.model = model
                logger.info("item model rebuilt in the background: %s", model.stats)
        except Exception:
            logger.exception("background rebuild of the item model failed")
        finally:
            self._build_lock.release()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background build to finish (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def model_store() -> ItemModelStore:
    """The model store of the current app (one per app, shared by its threads)."""
    store = current_app.extensions.get("item_model_store")
    if store is None:
        store = current_app.extensions.setdefault("item_model_store", ItemModelStore())
    return store
