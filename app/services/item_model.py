"""The learned item-to-item model behind the collaborative signal, and its in-process cache.

Items are keyed by TMDb id (stable across catalogue reloads and databases). The model is
derived data: it is rebuilt from the positive interactions (favourites and ratings of 7 or
more) whenever enough new ones arrive, never persisted, never rebuilt on a request's path.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from flask import Flask, current_app
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session, scoped_session

from app.extensions import db
from app.models import Favorite, Movie, Rating
from app.services.recommendation.item_model import ItemModel, learn_item_model
from app.services.recommendation.signals import LIKED_RATING

logger = logging.getLogger(__name__)


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
