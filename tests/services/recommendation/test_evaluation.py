"""The offline protocol: the temporal split, the metrics, and a fixture whose right answer is
known (two taste clusters that popularity cannot tell apart and the engine can)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.services.recommendation.evaluation import (
    EvaluationSet,
    EvaluationUser,
    build_evaluation_set,
    engine_ranker,
    evaluate,
    measure,
    original_ranker,
    popularity_ranker,
    split_ratings,
)
from app.services.recommendation.movielens import read_movielens
from app.services.recommendation.scoring import Weights
from tests.helpers import two_taste_clusters, write_movielens

GENRES = ("Drama", "Comedy", "Action")
DEFAULT_WEIGHTS = Weights(genre=0.2, quality=0.1, popularity=0.15, recency=0.1, collaborative=0.45)


@pytest.fixture
def clusters(tmp_path: Path) -> EvaluationSet:
    return build_evaluation_set(read_movielens(two_taste_clusters(tmp_path / "clusters")))


def test_the_latest_fifth_of_each_users_ratings_is_held_out(tmp_path: Path) -> None:
    ratings = [(1, m, 4.0, 1000 - m) for m in range(1, 11)]  # movie 10 is the oldest
    ratings += [(2, m, 4.0, m) for m in range(1, 10)]  # nine ratings: all training
    movies = [(m, f"Film {m} (2000)", "Drama") for m in range(1, 11)]
    data = read_movielens(
        write_movielens(tmp_path / "split", movies, [(m, str(m)) for m in range(1, 11)], ratings)
    )
    train, held_out = split_ratings(data)
    held = sorted(int(m) for m in data.ratings.movie_ids[held_out])
    assert held == [1, 2]  # user 1's two latest; nothing of user 2
    assert train.sum() == 17


def test_relevant_movies_are_held_out_ratings_of_seven_or_more(tmp_path: Path) -> None:
    stars = [4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.5, 3.0]  # the last two are held out
    ratings = [(1, m, s, m) for m, s in zip(range(1, 11), stars, strict=True)]
    movies = [(m, f"Film {m} (2000)", "Drama") for m in range(1, 11)]
    evaluation = build_evaluation_set(
        read_movielens(
            write_movielens(tmp_path / "rel", movies, [(m, str(m)) for m in range(1, 11)], ratings)
        )
    )
    (user,) = evaluation.users
    assert evaluation.catalogue.movie_ids[user.relevant].tolist() == [9]  # 3.5 stars = 7


def test_the_metrics_of_a_known_ranking(clusters: EvaluationSet) -> None:
    def two_hits_at_ranks_one_and_three(user: EvaluationUser, limit: int) -> np.ndarray:
        others = np.setdiff1d(np.arange(clusters.catalogue.size), user.relevant)
        return np.concatenate([user.relevant[:1], others[:1], user.relevant[1:], others[1:]])

    result = measure("known", clusters, two_hits_at_ranks_one_and_three, k=10)
    ideal = 1 + 1 / np.log2(3)
    assert result.users == 40
    assert result.ndcg == pytest.approx((1 + 1 / np.log2(4)) / ideal)
    assert result.recall == pytest.approx(1.0)
    assert result.hit_rate == pytest.approx(1.0)


def test_popularity_is_right_for_the_majority_only(clusters: EvaluationSet) -> None:
    result = measure("popularity", clusters, popularity_ranker(clusters), k=10)
    assert result.ndcg == pytest.approx(0.75)
    assert result.hit_rate == pytest.approx(0.75)
    # A users see the 10 B films, B users their 2 left and the 8 most rated A films.
    assert result.coverage == pytest.approx(0.9)


def test_the_engine_finds_what_is_left_of_each_users_taste(clusters: EvaluationSet) -> None:
    result = measure("engine", clusters, engine_ranker(clusters, DEFAULT_WEIGHTS), k=10)
    assert result.ndcg == pytest.approx(1.0)
    assert result.recall == pytest.approx(1.0)
    assert result.coverage == pytest.approx(1.0)


def test_the_original_scorer_ranks_only_movies_with_ten_votes(clusters: EvaluationSet) -> None:
    # Every movie has 8 or 24 training ratings: the original never shows an A film.
    result = measure("original", clusters, original_ranker(clusters), k=10)
    assert result.ndcg == pytest.approx(0.75)


def test_evaluate_reports_the_engine_and_both_baselines(tmp_path: Path) -> None:
    results = evaluate(two_taste_clusters(tmp_path / "all"), DEFAULT_WEIGHTS, k=5)
    assert [r.name for r in results] == ["engine", "popularity", "original"]
    engine, popularity, original = results
    assert engine.ndcg > popularity.ndcg and engine.ndcg > original.ndcg
