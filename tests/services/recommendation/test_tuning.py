"""The tuner: its temporal split, its search on a planted structure, its guarantees (never
worse than the defaults on validation, within its time budget)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.evaluation import split_ratings, training_part, tuning_inputs
from app.services.recommendation.item_model import ModelSettings
from app.services.recommendation.movielens import read_movielens
from app.services.recommendation.ranking import ServingSettings
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import FAVORITE, RATING, WATCHED
from app.services.recommendation.tuning import (
    EXPOSURE_GRID,
    SERVING_GRID,
    WATCHLIST,
    EngineConfiguration,
    Figures,
    InputSettings,
    Interactions,
    ValidationSet,
    build_validation_set,
    clearly_better,
    improves,
    interaction_values,
    learn_validation_similarity,
    measure,
    search_space,
    temporal_split,
    tune,
    validation_exposure,
)
from tests.helpers import two_taste_clusters

# Popularity alone: right for the 30 "B" users, wrong for the 10 "A" users of the fixture.
POPULARITY_ONLY = EngineConfiguration(weights=Weights(0.0, 0.0, 1.0, 0.0, 0.0))


def clusters_validation(tmp_path: Path) -> ValidationSet:
    data = read_movielens(two_taste_clusters(tmp_path / "clusters"))
    catalogue, interactions = tuning_inputs(training_part(data))
    # The fixture's users keep 8 ratings each after the evaluation's split.
    return build_validation_set(catalogue, interactions, min_interactions=5)


def plain_catalogue(size: int, popularity: np.ndarray | None = None) -> Catalogue:
    """`size` movies (ids 1..size, position = id - 1) without genres or votes."""
    ids = list(range(1, size + 1))
    return build_catalogue(
        movie_ids=ids,
        tmdb_ids=ids,
        titles=[f"Film {i}" for i in ids],
        genre_links=[],
        genre_tmdb_ids=[],
        genre_names=[],
        vote_average=np.zeros(size),
        vote_count=np.zeros(size, dtype=np.int64),
        popularity=np.zeros(size) if popularity is None else popularity,
        release_dates=[None] * size,
    )


def interactions(rows: list[tuple[int, int, int, int, int]]) -> Interactions:
    """(user, position, kind, rating, timestamp) rows."""
    columns = np.array(rows, dtype=np.int64).reshape(-1, 5).T
    return Interactions(*columns[:2], columns[2], columns[3], columns[4])


# ---- the split -------------------------------------------------------------------------------


def test_the_split_holds_out_each_users_latest_fifth_and_skips_users_with_too_few() -> None:
    rows = [(1, p, RATING, 8, 100 + p) for p in range(10)]  # latest: positions 8 and 9
    rows += [(2, p, FAVORITE, 0, 500 - p) for p in range(15)]  # latest: positions 0-2
    rows += [(3, p, RATING, 9, p) for p in range(9)]  # too few: all training
    held = temporal_split(interactions(rows))
    data = interactions(rows)
    assert sorted(data.positions[held & (data.user_ids == 1)].tolist()) == [8, 9]
    assert sorted(data.positions[held & (data.user_ids == 2)].tolist()) == [0, 1, 2]
    assert not held[data.user_ids == 3].any()


def test_no_held_out_interaction_reaches_the_training_part() -> None:
    rng = np.random.default_rng(3)
    rows = [
        (int(u), int(p), RATING, int(r), int(t))
        for u, p, r, t in zip(
            rng.integers(1, 30, 2000),
            rng.integers(0, 50, 2000),
            rng.integers(1, 11, 2000),
            rng.integers(0, 10**6, 2000),
            strict=True,
        )
    ]
    data = interactions(rows)
    held = temporal_split(data)
    validation = build_validation_set(plain_catalogue(50), data)
    as_rows = lambda d: set(  # noqa: E731
        zip(d.user_ids.tolist(), d.positions.tolist(), d.timestamps.tolist(), strict=True)
    )
    assert as_rows(validation.train) == as_rows(data.subset(~held))
    assert not as_rows(validation.train) & as_rows(data.subset(held))
    # Every held-out row is later than every training row of its user.
    for user in np.unique(data.user_ids[held]):
        mine = data.user_ids == user
        assert data.timestamps[mine & held].min() >= data.timestamps[mine & ~held].max()


def test_tuning_on_a_movielens_folder_never_sees_the_evaluations_test_part(
    tmp_path: Path,
) -> None:
    data = read_movielens(two_taste_clusters(tmp_path / "c"))
    _, test = split_ratings(data)
    catalogue, seen = tuning_inputs(training_part(data))
    seen_rows = set(
        zip(
            seen.user_ids.tolist(),
            catalogue.movie_ids[seen.positions].tolist(),
            seen.timestamps.tolist(),
            strict=True,
        )
    )
    ratings = data.ratings
    test_rows = set(
        zip(
            ratings.user_ids[test].tolist(),
            ratings.movie_ids[test].tolist(),
            ratings.timestamps[test].tolist(),
            strict=True,
        )
    )
    assert test_rows and seen_rows and not seen_rows & test_rows
    assert len(seen) == len(ratings) - len(test_rows)


def test_without_a_user_to_validate_on_the_tuner_says_so() -> None:
    data = interactions([(1, p, RATING, 8, p) for p in range(9)])
    with pytest.raises(ValueError, match="Nothing to validate on"):
        build_validation_set(plain_catalogue(10), data)


def test_input_settings_weigh_each_kind_of_interaction() -> None:
    data = interactions(
        [
            (1, 0, FAVORITE, 0, 0),
            (1, 1, RATING, 10, 0),
            (1, 2, RATING, 7, 0),
            (1, 3, RATING, 5, 0),
            (1, 4, RATING, 3, 0),
            (1, 5, WATCHED, 0, 0),
            (1, 6, WATCHLIST, 0, 0),
        ]
    )
    liked = interaction_values(data, InputSettings("liked"))
    graded = interaction_values(data, InputSettings("graded", 0.25))
    assert liked.tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert graded == pytest.approx([1, 1, 0.5, 1 / 6, 0, 0.25, 0.25])


def test_coverage_counts_the_lists_served_from_the_whole_history() -> None:
    # User 0 liked film 0 then 2, user 1 film 1 then 3; the latest (2 and 3) are held out.
    # Films 0 and 1 point to 2 and 3, and weakly to 5; films 2 and 3 point to 5.
    rows = [(0, 0, RATING, 8, 1_000), (0, 2, RATING, 8, 2_000)]
    rows += [(1, 1, RATING, 8, 1_000), (1, 3, RATING, 8, 2_000)]
    validation = build_validation_set(plain_catalogue(6), interactions(rows), min_interactions=2)
    similarity = sp.csr_matrix(
        ([1.0, 0.1, 1.0, 0.1, 1.0, 1.0], ([0, 0, 1, 1, 2, 3], [2, 5, 3, 5, 5, 5])),
        shape=(6, 6),
        dtype=np.float32,
    )
    model_only = EngineConfiguration(weights=Weights(0.0, 0.0, 0.0, 0.0, 1.0))
    figures = measure(validation, similarity, model_only, k=1)
    # From their training part each user's top film is the held-out one (NDCG 1, two
    # films); served from their whole history both get film 5: one film of six is shown.
    assert figures.ndcg == pytest.approx(1.0)
    assert figures.coverage == pytest.approx(1 / 6)
    assert [user.served_day for user in validation.users] == [
        datetime.fromtimestamp(2_000, UTC).date()
    ] * 2


# ---- the search ------------------------------------------------------------------------------


def planted_clusters() -> ValidationSet:
    """10 "A" users like the 10 A films (positions 0-9), 30 "B" users the 10 B films
    (10-19), each in a rotated order: the latest two of each user are held out, and they are
    exactly the films of their cluster the user has not met. B films are three times as
    popular, so popularity is right for B users only (NDCG 1) and wrong for A users (0)."""
    rows = []
    for user in range(40):
        first = 0 if user < 10 else 10
        for step in range(10):
            position = first + (user + step) % 10
            rows.append((user, position, RATING, 8, 1_000_000 + user * 1000 + step))
    popularity = np.r_[np.full(10, 10.0), np.full(10, 30.0)]
    return build_validation_set(plain_catalogue(20, popularity), interactions(rows))


def test_the_tuner_finds_the_configuration_that_recovers_two_taste_clusters() -> None:
    validation = planted_clusters()
    result = tune(validation, 120, default=POPULARITY_ONLY, stages=("weights",))
    # Popularity is wrong for the minority cluster; the learned model knows each user's taste.
    assert result.default_figures.ndcg == pytest.approx(0.75)
    assert result.figures.ndcg == pytest.approx(1.0)
    assert result.chosen.weights.collaborative > 0
    assert result.figures.users == 40


def test_the_tuner_never_returns_something_worse_than_the_defaults(tmp_path: Path) -> None:
    validation = clusters_validation(tmp_path)
    result = tune(validation, 120, stages=("weights", "diversity"))
    assert result.default_figures.users == 40
    assert result.figures.ndcg >= result.default_figures.ndcg
    assert result.figures.coverage >= result.default_figures.coverage
    # A floor no candidate reaches does not stop the walk: the best NDCG leads, still never
    # below the defaults in NDCG or coverage.
    unreachable = tune(validation, 120, min_coverage=1.01, stages=("weights",))
    assert len(unreachable.trials) > 1
    assert unreachable.figures.coverage < unreachable.coverage_floor
    assert unreachable.figures.ndcg >= unreachable.default_figures.ndcg
    assert unreachable.figures.coverage >= unreachable.default_figures.coverage
    assert unreachable.figures.ndcg == max(
        trial.figures.ndcg
        for trial in unreachable.trials
        if trial.figures.coverage >= unreachable.default_figures.coverage
    )


def test_a_candidate_reaching_the_coverage_floor_wins_over_a_more_accurate_one() -> None:
    defaults = Figures(0.30, 0.05, 4, per_user=(0.2, 0.3, 0.3, 0.4))
    accurate = Figures(0.50, 0.08, 4, per_user=(0.4, 0.5, 0.5, 0.6))
    wide = Figures(0.40, 0.12, 4, per_user=(0.3, 0.4, 0.4, 0.5))
    wider_but_worse = Figures(0.35, 0.15, 4, per_user=(0.25, 0.35, 0.35, 0.45))
    narrow = Figures(0.60, 0.04, 4, per_user=(0.5, 0.6, 0.6, 0.7))
    # Below the floor of 0.10, the higher NDCG leads; reaching it beats any NDCG below it.
    assert improves(accurate, defaults, defaults, 0.10, 1.0)
    assert improves(wide, accurate, defaults, 0.10, 1.0)
    assert not improves(accurate, wide, defaults, 0.10, 1.0)
    # Above the floor, NDCG decides again; never a coverage below the defaults'.
    assert not improves(wider_but_worse, wide, defaults, 0.10, 1.0)
    assert not improves(narrow, defaults, defaults, 0.0, 1.0)
    # Without a floor beyond the defaults' coverage, the more accurate wins.
    assert improves(accurate, wide, defaults, defaults.coverage, 1.0)


def test_a_gain_within_the_validation_noise_is_not_taken_for_an_improvement() -> None:
    incumbent = Figures(0.5, 0.1, 4, per_user=(0.0, 1.0, 0.0, 1.0))
    noisy = Figures(0.55, 0.1, 4, per_user=(0.2, 0.6, 0.4, 1.0))  # +0.05 +- 0.19
    steady = Figures(0.6, 0.1, 4, per_user=(0.1, 1.0, 0.1, 1.2))  # +0.1 every time but one
    assert not clearly_better(noisy, incumbent, 1.0)
    assert clearly_better(noisy, incumbent, 0.0)
    assert clearly_better(steady, incumbent, 1.0)
    assert not clearly_better(incumbent, steady, 0.0)


def test_no_candidate_starts_once_the_budget_is_spent(tmp_path: Path) -> None:
    validation = clusters_validation(tmp_path)
    ticks = itertools.count()
    # Each reading of the clock is one second later: a candidate costs two readings.
    result = tune(validation, 9, clock=lambda: float(next(ticks)))
    assert result.out_of_time
    assert result.seconds <= 9 + 2
    assert 2 <= len(result.trials) <= 5


def test_a_real_budget_is_respected(tmp_path: Path) -> None:
    validation = clusters_validation(tmp_path)
    result = tune(validation, 1.0)
    assert result.trials  # the defaults are always measured
    assert result.seconds < 1.0 + 2 * max(trial.seconds for trial in result.trials)


def test_a_configuration_survives_its_round_trip_through_json() -> None:
    configuration = EngineConfiguration(
        model=ModelSettings(sequence_mix=0.5, sequence_window=10, popularity_exponent=0.2),
        weights=Weights(0, 0, 0, 0, 1),
        inputs=InputSettings("graded", 0.5),
        max_same_genre_run=5,
        serving=ServingSettings(
            graded_seeds=True, released_only=True, exposure_depth=40, exposure_strength=0.2
        ),
    )
    assert EngineConfiguration.from_dict(configuration.to_dict()) == configuration
    # One recorded before the exposure re-rank existed reads with it off.
    before_exposure = configuration.to_dict()
    del (
        before_exposure["serving"]["exposure_depth"],
        before_exposure["serving"]["exposure_strength"],
    )
    assert EngineConfiguration.from_dict(before_exposure).serving == ServingSettings(
        graded_seeds=True, released_only=True
    )
    # A configuration recorded before seeds and the sequence model existed reads as it was.
    older = configuration.to_dict()
    del older["serving"], older["model"]["sequence_mix"], older["model"]["sequence_window"]
    read = EngineConfiguration.from_dict(older)
    assert read.serving == ServingSettings() and read.model.sequence_mix == 0


def test_a_sequence_candidate_is_learned_from_the_training_times(tmp_path: Path) -> None:
    validation = clusters_validation(tmp_path)
    candidate = EngineConfiguration(model=ModelSettings(l2=1.0, sequence_mix=0.5))
    result = tune(validation, 120, default=candidate, stages=("seeds",))
    assert result.default_figures.users == 40
    assert all(trial.configuration.model.sequence_mix == 0.5 for trial in result.trials)
    assert {trial.configuration.serving for trial in result.trials} == {
        ServingSettings(),
        *SERVING_GRID,
    }


def test_the_exposure_stage_counts_exposure_on_the_training_part_once(tmp_path: Path) -> None:
    validation = clusters_validation(tmp_path)
    result = tune(validation, 120, stages=("exposure",))
    settings = {
        (trial.configuration.serving.exposure_depth, trial.configuration.serving.exposure_strength)
        for trial in result.trials
    }
    assert settings == {(0, 0.0), *EXPOSURE_GRID}
    # Each trial's figures are those of its configuration measured alone (counting itself).
    trial = result.trials[-1]
    model = trial.configuration.model
    similarity = learn_validation_similarity(validation, model, trial.configuration.inputs)
    assert measure(validation, similarity, trial.configuration) == trial.figures
    plain = replace(trial.configuration, serving=ServingSettings())
    counts = validation_exposure(validation, similarity, plain)
    assert counts.sum() > 0
    assert measure(validation, similarity, trial.configuration, exposure_counts=counts) == (
        trial.figures
    )


def test_the_seeds_stage_keeps_the_exposure_rerank_chosen() -> None:
    reranked = EngineConfiguration(
        serving=ServingSettings(exposure_depth=40, exposure_strength=0.2)
    )
    candidates = list(search_space(reranked, "seeds"))
    assert len(candidates) == len(SERVING_GRID)
    for candidate, seeds in zip(candidates, SERVING_GRID, strict=True):
        assert candidate.serving == replace(seeds, exposure_depth=40, exposure_strength=0.2)
