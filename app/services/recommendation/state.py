"""The engine's in-process caches, one set per app: the catalogue arrays (reloaded when a
cheap fingerprint query says the catalogue changed), the current item-model version (loaded
from the database, never trained here) and what is derived from them. All of it is a copy
of the database, reloaded on demand."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import scipy.sparse as sp
from flask import current_app

from app.errors import NotFound
from app.extensions import db
from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.exposure import align_exposure, exposure_rerank
from app.services.recommendation.item_model import ItemModel, align_similarity
from app.services.recommendation.loading import (
    fingerprint_statement,
    load_catalogue,
    load_overviews,
)
from app.services.recommendation.model_versions import (
    LoadedVersion,
    current_version_id,
    load_version,
    request_training,
)
from app.services.recommendation.ranking import ExposureRerank
from app.services.recommendation.similar import build_overview_vectors

logger = logging.getLogger(__name__)


class EngineState:
    """Per-app caches, all derived from the database and rebuilt on demand."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fingerprint: tuple[Any, ...] | None = None
        self.catalogue: Catalogue | None = None
        self.aligned: tuple[int, int, sp.csr_matrix] | None = None  # model and catalogue versions
        self.exposure: tuple[int, int, ExposureRerank | None] | None = None  # the same
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
    """Forget the cached catalogue and model version of the current app (tests, after imports)."""
    current_app.extensions.pop("recommender_state", None)
    current_app.extensions.pop("item_model_holder", None)


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


def current_similarity(catalogue: Catalogue) -> sp.csr_matrix | None:
    """The current model version's similarities by catalogue position (None: no version yet,
    and the engine falls back to its non-collaborative signals).

    The alignment to the catalogue is cached until either of them is replaced.
    """
    state = engine_state()
    served = served_model()
    if served is None:
        return None
    model = served.model
    cached = state.aligned
    if cached is not None and cached[0] == model.version and cached[1] == catalogue.version:
        return cached[2]
    aligned = align_similarity(model, catalogue)
    state.aligned = (model.version, catalogue.version, aligned)
    return aligned


def current_exposure(catalogue: Catalogue) -> ExposureRerank | None:
    """The served model's exposure re-rank by catalogue position (None: its configuration has
    none, or no model is served). Cached until the model or the catalogue is replaced; read
    after `current_similarity`, like the model's other serving settings."""
    model = served_item_model()
    if model is None or model.exposure is None or not model.serving.reranks_by_exposure:
        return None
    state = engine_state()
    cached = state.exposure
    if cached is not None and cached[0] == model.version and cached[1] == catalogue.version:
        return cached[2]
    rerank = exposure_rerank(
        align_exposure(model.exposure, catalogue),
        model.serving.exposure_depth,
        model.serving.exposure_strength,
    )
    state.exposure = (model.version, catalogue.version, rerank)
    return rerank


def overview_vectors(catalogue: Catalogue) -> sp.csr_matrix:
    """TF-IDF vectors of the catalogue's overviews, cached until the catalogue changes."""
    state = engine_state()
    cached = state.overviews
    if cached is not None and cached[0] == catalogue.version:
        return cached[1]
    vectors = build_overview_vectors(load_overviews(catalogue))
    state.overviews = (catalogue.version, vectors)
    return vectors


def served_model(*, check: bool = False) -> LoadedVersion | None:
    """The model version this process serves; never trains.

    Which version is current is read (one indexed lookup) at most once per
    RECOMMENDER_MODEL_CHECK_SECONDS (0: every call; `check`: now). A newer one is loaded
    and swapped in whole, so a concurrent request sees the old version or the new one,
    never a mix. With no version at all, training is requested and None is returned.
    """
    holder = model_holder()
    interval = float(current_app.config["RECOMMENDER_MODEL_CHECK_SECONDS"])
    if not check and time.monotonic() - holder.checked_at < interval:
        return holder.served
    version_id = current_version_id()
    if version_id is None:
        holder.checked_at = time.monotonic()
        if holder.served is not None or not holder.training_requested:
            holder.training_requested = True
            request_training("no item model version is stored yet")
        holder.served = None
        return None
    served = holder.served
    if served is None or served.version_id != version_id:
        with holder.lock:  # one load per new version, whatever the number of threads
            served = holder.served
            if served is None or served.version_id != version_id:
                try:
                    served = load_version(version_id)
                except NotFound:  # deleted since the lookup: keep serving, look again later
                    logger.warning("item model version %s vanished before loading", version_id)
                    return holder.served
                holder.served = served
                logger.info("serving item model version %s", version_id)
    holder.checked_at = time.monotonic()
    return served


class ModelHolder:
    """The version this process serves, replaced whole (one attribute assignment)."""

    def __init__(self) -> None:
        self.served: LoadedVersion | None = None
        self.checked_at = -math.inf  # time.monotonic() of the last look at the current id
        self.training_requested = False
        self.lock = threading.Lock()


def served_item_model() -> ItemModel | None:
    """The model the latest `served_model` call chose (no lookup): a request reads it after
    `current_similarity` to apply a tuned model's blend and diversity."""
    served = model_holder().served
    return None if served is None else served.model


def model_holder() -> ModelHolder:
    """The model holder of the current app (one per app, shared by its threads)."""
    holder = current_app.extensions.get("item_model_holder")
    if holder is None:
        holder = current_app.extensions.setdefault("item_model_holder", ModelHolder())
    return holder
