"""Item-model versions in the database: training one, listing them, which one is current,
rolling back, and asking for training from a process that must not train (a web worker).

Training is the only writer: a job or `flask recommender train` calls
`train_model_version()`. Web workers only read (see recommendation.state).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.models import ItemModelActivation, ItemModelVersion
from app.services.recommendation.item_model import (
    ALGORITHM,
    ItemModel,
    ItemModelStats,
    from_bytes,
    learn_item_model,
    model_parameters,
    to_bytes,
)
from app.services.recommendation.loading import (
    PositiveInteractions,
    interaction_watermark,
    latest_configuration,
    learn_configured,
    load_catalogue,
    load_positive_interactions,
)
from app.services.recommendation.scoring import Weights
from app.services.recommendation.tuning import EngineConfiguration
from app.services.recommendation.validation import ValidationResult, validate_on_interactions
from app.services.unit_of_work import unit_of_work

logger = logging.getLogger(__name__)

# The key of a tuned version's configuration in its stored parameters.
TUNED = "tuned_configuration"

# Where a job runner registers how a training request reaches it (app.extensions key).
TRAINING_REQUEST_HOOK = "recommender_training_request_hook"


@dataclass(frozen=True)
class LoadedVersion:
    """A version as a web worker serves it: its id and the model, replaced whole."""

    version_id: int
    model: ItemModel


def train_model_version(*, activated_by_id: int | None = None) -> ItemModelVersion:
    """Learn the item model from every positive interaction, validate it, store it as a new
    version and make it current, in one transaction. Returns the stored version.

    For jobs and the CLI: never call it from a web request (it takes seconds at scale).
    """
    started = time.perf_counter()
    interactions = load_positive_interactions(db.session)
    configuration = latest_configuration(db.session)
    if configuration is None:
        model = learn_item_model(
            interactions.user_ids, interactions.tmdb_ids, watermark=interactions.watermark
        )
        algorithm, parameters = ALGORITHM, dict[str, Any](model_parameters())
    else:
        # The latest `flask recommender tune` run chose the model, its input and its blend.
        model = learn_configured(db.session, configuration, interactions.watermark)
        algorithm, parameters = configuration.model.family, {TUNED: configuration.to_dict()}
    validation = validate_interactions(interactions)
    blob = to_bytes(model)
    version = ItemModelVersion(
        algorithm=algorithm,
        parameters=parameters,
        items=model.stats.items,
        users=model.stats.users,
        interactions=model.stats.interactions,
        interaction_watermark=interactions.watermark,
        training_seconds=round(time.perf_counter() - started, 3),
        validation_users=validation.users,
        ndcg_at_10=validation.ndcg,
        coverage_at_10=validation.coverage,
        weights=blob,
        weights_bytes=len(blob),
    )
    with unit_of_work():
        db.session.add(version)
        db.session.flush()
        db.session.add(
            ItemModelActivation(
                version_id=version.id, reason="trained", activated_by_id=activated_by_id
            )
        )
    logger.info(
        "item model version %s trained: %s items, %s interactions, %.2f s, NDCG@10 %s",
        version.id,
        version.items,
        version.interactions,
        version.training_seconds,
        version.ndcg_at_10,
    )
    return version


def validate_interactions(interactions: PositiveInteractions) -> ValidationResult:
    """The offline figures of a model learned like this one on a temporal split."""
    catalogue = load_catalogue()
    positions = catalogue.positions(interactions.movie_ids)
    known = positions >= 0  # hidden movies are not recommended: nothing to hold out
    weights = Weights.from_config(current_app.config)
    return validate_on_interactions(
        catalogue,
        interactions.user_ids[known],
        positions[known],
        interactions.times[known],
        weights,
        max_users=int(current_app.config["RECOMMENDER_VALIDATION_USERS"]),
    )


def current_version_id() -> int | None:
    """The id of the version web workers serve: one lookup on the activations' key index."""
    return db.session.scalar(
        select(ItemModelActivation.version_id).order_by(ItemModelActivation.id.desc()).limit(1)
    )


def load_version(version_id: int) -> LoadedVersion:
    """Read one version's weights and build the model it holds (NotFound if it is gone)."""
    row = db.session.execute(
        select(
            ItemModelVersion.weights,
            ItemModelVersion.items,
            ItemModelVersion.users,
            ItemModelVersion.interactions,
            ItemModelVersion.training_seconds,
            ItemModelVersion.interaction_watermark,
            ItemModelVersion.parameters,
        ).where(ItemModelVersion.id == version_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"Model version {version_id} does not exist.", code="model_not_found")
    stats = ItemModelStats(
        items=row.items,
        users=row.users,
        interactions=row.interactions,
        seconds=row.training_seconds,
    )
    model = from_bytes(row.weights, stats, watermark=row.interaction_watermark)
    tuned = (row.parameters or {}).get(TUNED)
    if tuned is not None:
        # Served as trained: the tuned configuration's blend and diversity come with it.
        configuration = EngineConfiguration.from_dict(tuned)
        model = replace(
            model,
            settings=configuration.model,
            weights=configuration.weights,
            max_same_genre_run=configuration.max_same_genre_run,
            serving=configuration.serving,
        )
    return LoadedVersion(version_id=version_id, model=model)


def list_versions(limit: int = 50) -> list[ItemModelVersion]:
    """The newest versions first (their weights are not read)."""
    return list(
        db.session.scalars(
            select(ItemModelVersion).order_by(ItemModelVersion.id.desc()).limit(limit)
        )
    )


def activate_version(version_id: int, *, activated_by_id: int | None = None) -> None:
    """Make an earlier (or any stored) version current again: a rollback. Commits.

    The versions are left as they are; one activation row records who chose which.
    """
    if db.session.get(ItemModelVersion, version_id) is None:
        raise NotFound(f"Model version {version_id} does not exist.", code="model_not_found")
    with unit_of_work():
        db.session.add(
            ItemModelActivation(
                version_id=version_id, reason="rollback", activated_by_id=activated_by_id
            )
        )
    logger.info("item model version %s made current (by user %s)", version_id, activated_by_id)


def interactions_since_current_version() -> int | None:
    """Positive interactions added or removed since the current version was trained (None:
    no version yet): two index lookups and a primary-key read."""
    version_id = current_version_id()
    if version_id is None:
        return None
    trained_at = db.session.scalar(
        select(ItemModelVersion.interaction_watermark).where(ItemModelVersion.id == version_id)
    )
    now = int(db.session.scalar(select(interaction_watermark())) or 0)
    return abs(now - int(trained_at or 0))


def training_due(rebuild_after: int | None = None) -> bool:
    """No version yet, or `rebuild_after` (default RECOMMENDER_REBUILD_AFTER) positive
    interactions added or removed since the current version was trained."""
    threshold = rebuild_after or int(current_app.config["RECOMMENDER_REBUILD_AFTER"])
    since = interactions_since_current_version()
    return since is None or since >= max(threshold, 1)


def request_training(reason: str) -> None:
    """Ask for a new version without training here (a web worker calls this).

    Logs the request and hands it to the hook a job runner registered with
    `register_training_request_hook` (none: the log is the request; `flask recommender
    train` answers it).
    """
    logger.warning("item model training requested: %s", reason)
    hook: Callable[[str], None] | None = current_app.extensions.get(TRAINING_REQUEST_HOOK)
    if hook is not None:
        hook(reason)


def register_training_request_hook(app: Flask, hook: Callable[[str], None]) -> None:
    """Route `request_training` to a job runner (e.g. enqueue a training task)."""
    app.extensions[TRAINING_REQUEST_HOOK] = hook
