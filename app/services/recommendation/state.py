"""The engine's in-process caches, one set per app: the catalogue arrays (reloaded when a
cheap fingerprint query says the catalogue changed), the item model and what is derived
from them. All of it is derived from the database and rebuilt on demand."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import scipy.sparse as sp
from flask import Flask, current_app, has_request_context
from sqlalchemy.orm import Session, scoped_session

from app.extensions import db
from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.item_model import ItemModel, align_similarity
from app.services.recommendation.loading import (
    fingerprint_statement,
    load_and_learn,
    load_catalogue,
    load_overviews,
)
from app.services.recommendation.similar import build_overview_vectors

logger = logging.getLogger(__name__)


class EngineState:
    """Per-app caches, all derived from the database and rebuilt on demand."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fingerprint: tuple[Any, ...] | None = None
        self.catalogue: Catalogue | None = None
        self.aligned: tuple[int, int, sp.csr_matrix] | None = None  # model and catalogue versions
        self.overviews: tuple[int, sp.csr_matrix] | None = None  # catalogue version, vectors
        self.watermark = 0
        self.checked_at = -math.inf  # time.monotonic() of the last fingerprint query


def engine_state() -> EngineState:
    """The caches of the current app (one per app, shared by its threads)."""
    state = current_app.extensions.get("recommender_state")
    if state is None:
        state = current_app.extensions.setdefault("recommender_state", EngineState())
    return state


def reset_caches() -> None:
    """Forget the cached catalogue and item model of the current app (tests, after imports)."""
    current_app.extensions.pop("recommender_state", None)
    store = current_app.extensions.pop("item_model_store", None)
    if store is not None:
        store.wait()


def current_catalogue(*, check: bool = False) -> tuple[Catalogue, int]:
    """The cached catalogue, reloaded when its fingerprint moved; and the interaction watermark.

    The fingerprint is read at most once per RECOMMENDER_CATALOGUE_CHECK_SECONDS (0: every
    call); in between, the cached arrays and watermark serve without a query. `check` reads it
    now whatever the time.
    """
    state = engine_state()
    interval = float(current_app.config["RECOMMENDER_CATALOGUE_CHECK_SECONDS"])
    catalogue = state.catalogue
    if not check and catalogue is not None and time.monotonic() - state.checked_at < interval:
        return catalogue, state.watermark
    *fingerprint, watermark = db.session.execute(fingerprint_statement()).one()
    key = tuple(fingerprint)
    with state.lock:
        if state.catalogue is None or state.fingerprint != key:
            state.catalogue = load_catalogue()
            state.fingerprint = key
        state.watermark = int(watermark or 0)
        state.checked_at = time.monotonic()
        return state.catalogue, state.watermark


def current_similarity(catalogue: Catalogue, watermark: int) -> sp.csr_matrix | None:
    """The item model's similarities by catalogue position (None before the first model).

    The model is rebuilt when due (see `rebuild_model_when_due`); the alignment to the
    catalogue is cached until either of them is replaced.
    """
    state = engine_state()
    model = rebuild_model_when_due(watermark)
    if model is None:
        return None
    cached = state.aligned
    if cached is not None and cached[0] == model.version and cached[1] == catalogue.version:
        return cached[2]
    aligned = align_similarity(model, catalogue)
    state.aligned = (model.version, catalogue.version, aligned)
    return aligned


def overview_vectors(catalogue: Catalogue) -> sp.csr_matrix:
    """TF-IDF vectors of the catalogue's overviews, cached until the catalogue changes."""
    state = engine_state()
    cached = state.overviews
    if cached is not None and cached[0] == catalogue.version:
        return cached[1]
    vectors = build_overview_vectors(load_overviews(catalogue))
    state.overviews = (catalogue.version, vectors)
    return vectors


def rebuild_model_when_due(watermark: int) -> ItemModel | None:
    """The cached model; a rebuild is due after RECOMMENDER_REBUILD_AFTER new interactions.

    This is the one place that decides how a due rebuild runs. Inside a request it runs in a
    background thread while the old model (or none) keeps serving; elsewhere (CLI, jobs)
    nobody waits on a page, so it runs here and now.
    """
    store = model_store()
    if store.needs_rebuild(watermark, current_app.config["RECOMMENDER_REBUILD_AFTER"]):
        if has_request_context():
            store.rebuild_in_background(current_app._get_current_object())  # type: ignore[attr-defined]
        else:
            store.rebuild_now(db.session)
    return store.model


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
