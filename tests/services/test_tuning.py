"""Tuning on the deployment's own interactions: what it records, and that training and
serving then use the configuration it chose."""

from __future__ import annotations

import pytest
from flask import Flask

from app.extensions import db
from app.models import Rating, TunedConfiguration
from app.services import tuning
from app.services.recommendation import state
from app.services.recommendation.item_model import ModelSettings
from app.services.recommendation.model_versions import load_version, train_model_version
from app.services.recommendation.ranking import ServingSettings
from app.services.recommendation.scoring import Weights
from app.services.recommendation.tuning import (
    EngineConfiguration,
    Figures,
    InputSettings,
    Trial,
    TuningResult,
)
from app.services.recommender import recommend_for_user
from tests.factories import make_movie, make_user, two_clusters_in_the_database

CHOSEN = EngineConfiguration(
    model=ModelSettings("rp3beta", alpha=0.8, beta=0.3, popularity_exponent=0.2),
    inputs=InputSettings("graded", 0.5),
    weights=Weights(0.0, 0.0, 0.0, 0.0, 1.0),
    max_same_genre_run=5,
)


def record(app: Flask, configuration: EngineConfiguration) -> None:
    figures = Figures(ndcg=0.5, coverage=0.2, users=10)
    result = TuningResult(
        chosen=configuration,
        figures=figures,
        default=EngineConfiguration(),
        default_figures=Figures(ndcg=0.4, coverage=0.1, users=10),
        coverage_floor=0.1,
        trials=[Trial(configuration, figures, 1.0)],
        seconds=1.0,
    )
    with app.app_context():
        tuning.record_result(result, "database", 60)


def test_tuning_the_deployment_records_its_choice_and_the_defaults_figures(app: Flask) -> None:
    two_clusters_in_the_database(app)
    with app.app_context():
        stored = tuning.tune_deployment(budget_seconds=60, min_coverage=0.0)
        row = db.session.get(TunedConfiguration, stored.id)
        assert row is not None and row.source == "database"
        assert row.validation_users == 12
        assert row.validation_ndcg >= row.default_ndcg
        assert row.validation_coverage >= row.default_coverage
        assert row.candidates >= 1 and row.seconds <= 60 + 30
        assert set(row.families) <= {"ease", "rp3beta", "als"} and row.families
        assert tuning.current_tuned_configuration() == row
        assert tuning.current_engine_configuration() == EngineConfiguration.from_dict(
            row.configuration
        )


def test_too_few_interactions_to_tune_on_is_an_error_that_records_nothing(app: Flask) -> None:
    make_movie(app)
    with app.app_context():
        with pytest.raises(ValueError, match="Nothing to validate on"):
            tuning.tune_deployment(budget_seconds=10, min_coverage=0.0)
        assert tuning.current_tuned_configuration() is None


def test_training_uses_the_latest_tuned_configuration(app: Flask) -> None:
    _, movies = two_clusters_in_the_database(app)
    newcomer = make_user(app)
    with app.app_context():
        db.session.add_all(
            Rating(user_id=newcomer.id, movie_id=movie.id, rating=9) for movie in movies[:2]
        )
        db.session.commit()
    record(app, EngineConfiguration())
    record(app, CHOSEN)
    with app.app_context():
        model = load_version(train_model_version().id).model
        assert model is not None
        assert model.settings == CHOSEN.model
        assert model.weights == CHOSEN.weights
        assert model.max_same_genre_run == 5
        # Serving blends as the tuned configuration says: the item model alone.
        results = recommend_for_user(newcomer.id, limit=10)
        # The other films of the newcomer's cluster come first, and only from the item model.
        assert {r.movie_id for r in results[:10]} == {m.id for m in movies[2:12]}
        assert {r.recommendation_type for r in results} == {"collaborative"}


def test_without_a_tuned_configuration_training_keeps_the_defaults(app: Flask) -> None:
    two_clusters_in_the_database(app)
    with app.app_context():
        model = load_version(train_model_version().id).model
        assert model is not None
        assert model.settings == ModelSettings() and model.weights is None


def test_training_learns_the_sequence_from_the_interactions_times(app: Flask) -> None:
    # Each user of the first cluster rates its films in a cycle starting at their own index:
    # film 11 is followed by film 0 in time, never in id order.
    _, movies = two_clusters_in_the_database(app)
    newcomer = make_user(app)
    with app.app_context():
        db.session.add(Rating(user_id=newcomer.id, movie_id=movies[11].id, rating=9))
        db.session.commit()
    sequential = EngineConfiguration(
        model=ModelSettings("ease", l2=1.0, sequence_mix=1.0, sequence_window=1),
        weights=Weights(0.0, 0.0, 0.0, 0.0, 1.0),
        serving=ServingSettings(graded_seeds=True, released_only=True),
    )
    record(app, sequential)
    with app.app_context():
        model = load_version(train_model_version().id).model
        assert model.serving == sequential.serving
        results = recommend_for_user(newcomer.id, limit=3)
        assert results[0].movie_id == movies[0].id
        assert results[0].recommendation_type == "collaborative"


def test_training_counts_the_exposure_its_configuration_reranks_by(app: Flask) -> None:
    users, movies = two_clusters_in_the_database(app)
    reranked = EngineConfiguration(
        weights=Weights(0.0, 0.0, 0.0, 0.0, 1.0),
        serving=ServingSettings(exposure_depth=20, exposure_strength=0.2),
    )
    record(app, reranked)
    with app.app_context():
        model = load_version(train_model_version().id).model
        assert model.serving == reranked.serving
        # Each user rated the 12 films of their cluster: their list is the other cluster's
        # 12, so every film is in the lists of the other cluster's 6 users.
        assert model.exposure is not None
        assert sorted(model.exposure.keys) == sorted(movie.tmdb_id for movie in movies)
        assert list(model.exposure.counts) == [6.0] * 24
        # Serving re-ranks with it, aligned to the catalogue.
        recommend_for_user(users[0].id, limit=5)
        catalogue, _ = state.current_catalogue()
        rerank = state.current_exposure(catalogue)
        assert rerank is not None and (rerank.depth, rerank.strength) == (20, 0.2)
        assert list(rerank.signal) == [1.0] * 24


def test_training_without_the_exposure_rerank_counts_nothing(app: Flask) -> None:
    two_clusters_in_the_database(app)
    record(app, CHOSEN)
    with app.app_context():
        assert load_version(train_model_version().id).model.exposure is None
