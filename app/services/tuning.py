"""Tuning the engine to this deployment: read the interactions, run the search of
recommendation.tuning (never inside a web request: the CLI or a job calls it), record what it
chose; and `current_tuned_configuration()`, which training reads."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
from flask import current_app
from sqlalchemy import Integer, literal, select, union_all

from app.extensions import db
from app.models import Favorite, Rating, TunedConfiguration, WatchHistory, WatchlistEntry
from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.evaluation import training_part, tuning_inputs
from app.services.recommendation.loading import latest_configuration, load_catalogue
from app.services.recommendation.movielens import read_movielens
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import FAVORITE, RATING, WATCHED
from app.services.recommendation.tuning import (
    WATCHLIST,
    EngineConfiguration,
    Interactions,
    TuningResult,
    build_validation_set,
    default_configuration,
    tune,
)
from app.services.unit_of_work import unit_of_work


def current_tuned_configuration() -> TunedConfiguration | None:
    """The latest tuning run's record (None before the first): what training uses."""
    return db.session.scalar(
        select(TunedConfiguration).order_by(TunedConfiguration.id.desc()).limit(1)
    )


def current_engine_configuration() -> EngineConfiguration | None:
    """The configuration of the latest tuning run, or None (the defaults apply)."""
    return latest_configuration(db.session)


def load_interactions(catalogue: Catalogue) -> Interactions:
    """Every favourite, rating, viewing and watchlist entry of a catalogue movie, with its
    time (four queries' worth in one statement)."""
    rows = db.session.execute(
        union_all(
            select(Favorite.user_id, Favorite.movie_id, Favorite.created_at).add_columns(
                _constant(FAVORITE), _constant(0)
            ),
            select(Rating.user_id, Rating.movie_id, Rating.updated_at).add_columns(
                _constant(RATING), Rating.rating
            ),
            select(
                WatchHistory.user_id, WatchHistory.movie_id, WatchHistory.watched_at
            ).add_columns(_constant(WATCHED), _constant(0)),
            select(
                WatchlistEntry.user_id, WatchlistEntry.movie_id, WatchlistEntry.created_at
            ).add_columns(_constant(WATCHLIST), _constant(0)),
        )
    ).all()
    positions = catalogue.positions([row[1] for row in rows])
    known = positions >= 0  # removed movies are not in the catalogue
    return Interactions(
        user_ids=np.array([row[0] for row in rows], dtype=np.int64)[known],
        positions=positions[known],
        kinds=np.array([row[3] for row in rows], dtype=np.int64)[known],
        ratings=np.array([row[4] for row in rows], dtype=np.int64)[known],
        timestamps=np.array([_seconds(row[2]) for row in rows], dtype=np.int64)[known],
    )


def _constant(value: int):  # type: ignore[no-untyped-def]
    return literal(value, Integer)


def _seconds(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment is not None else 0


def configured_default() -> EngineConfiguration:
    """The defaults the tuner must beat: the engine with this deployment's weights."""
    return default_configuration(Weights.from_config(current_app.config))


def tune_deployment(budget_seconds: float, min_coverage: float) -> TunedConfiguration:
    """Tune on the database's interactions and record the result."""
    catalogue = load_catalogue()
    validation = build_validation_set(catalogue, load_interactions(catalogue))
    db.session.rollback()  # no transaction held open through a search of minutes
    result = tune(
        validation, budget_seconds, default=configured_default(), min_coverage=min_coverage
    )
    return record_result(result, "database", budget_seconds)


def tune_movielens(
    directory: Path, budget_seconds: float, min_coverage: float
) -> TunedConfiguration:
    """Tune on the training part of a MovieLens folder (its test part, the latest 20% of each
    user's ratings that `flask recommender evaluate` scores, is dropped on reading) and
    record the result."""
    catalogue, interactions = tuning_inputs(training_part(read_movielens(directory)))
    validation = build_validation_set(catalogue, interactions)
    result = tune(
        validation, budget_seconds, default=configured_default(), min_coverage=min_coverage
    )
    return record_result(result, f"movielens:{Path(directory).name}", budget_seconds)


def record_result(result: TuningResult, source: str, budget_seconds: float) -> TunedConfiguration:
    """Store what a tuning run chose, with its and the defaults' validation figures."""
    families = {
        family: {
            "ndcg": round(trial.figures.ndcg, 4),
            "coverage": round(trial.figures.coverage, 4),
            "description": trial.configuration.describe(),
            "configuration": trial.configuration.to_dict(),
        }
        for family, trial in result.best_by_family().items()
    }
    with unit_of_work():
        row = TunedConfiguration(
            source=source[:200],
            configuration=result.chosen.to_dict(),
            description=result.chosen.describe(),
            validation_ndcg=result.figures.ndcg,
            validation_coverage=result.figures.coverage,
            default_ndcg=result.default_figures.ndcg,
            default_coverage=result.default_figures.coverage,
            validation_users=result.figures.users,
            candidates=len(result.trials),
            budget_seconds=budget_seconds,
            seconds=round(result.seconds, 1),
            families=families,
        )
        db.session.add(row)
    return row
