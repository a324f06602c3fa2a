"""The exposure re-rank on tiny examples with a known answer: what it counts, how it moves a
user's best films, and that a model keeps its counts through storage."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.exposure import (
    ItemExposure,
    align_exposure,
    count_exposure,
    exposure_of_interactions,
    exposure_rerank,
    exposure_signal,
)
from app.services.recommendation.item_model import ItemModelStats, from_bytes, learn_item_model
from app.services.recommendation.item_model import to_bytes as model_bytes
from app.services.recommendation.ranking import (
    ExposureRerank,
    ServingSettings,
    rank_for_user,
    rerank_by_exposure,
)
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import RATING, UserSignals

COLLABORATIVE_ONLY = Weights(0.0, 0.0, 0.0, 0.0, 1.0)
TODAY = date(2024, 1, 1)


def films(count: int) -> Catalogue:
    """`count` films, ids 1..count (position = id - 1), TMDb ids 101.., no genres or votes."""
    ids = np.arange(1, count + 1)
    return build_catalogue(
        movie_ids=ids,
        tmdb_ids=ids + 100,
        titles=[f"Film {i}" for i in ids],
        genre_links=[],
        genre_tmdb_ids=[],
        genre_names=[],
        vote_average=np.zeros(count),
        vote_count=np.zeros(count, dtype=np.int64),
        popularity=np.zeros(count),
        release_dates=[None] * count,
    )


def liking(*positions: int) -> UserSignals:
    liked = np.array(positions, dtype=np.int64)
    return UserSignals(
        liked=liked,
        liked_weight=np.ones(liked.size),
        excluded=liked,
        favorite_genres=np.empty(0, dtype=np.int64),
    )


def neighbours(count: int, weights: dict[tuple[int, int], float]) -> sp.csr_matrix:
    rows, cols = zip(*weights, strict=True)
    return sp.csr_matrix(
        (list(weights.values()), (rows, cols)), shape=(count, count), dtype=np.float32
    )


def test_the_rerank_moves_exposed_films_down_within_the_depth_only() -> None:
    scores = np.array([1.0, 0.9, 0.8, 0.5, 0.4])
    signal = np.array([1.0, 0.0, 0.5, 0.0, 0.0])
    rerank = ExposureRerank(signal=signal, depth=3, strength=0.2)
    keys = rerank_by_exposure(scores, np.ones(5, dtype=bool), rerank, np.arange(1, 6))
    # The best three lose 0.2 x 1.0 x their exposure; the rest the most any could (0.2),
    # so the unexposed film at 0.5 cannot overtake them.
    assert keys == pytest.approx([0.8, 0.9, 0.7, 0.3, 0.2])
    assert list(np.argsort(-keys, kind="stable")) == [1, 0, 2, 3, 4]
    # Ineligible positions keep their score; nothing eligible, nothing changes.
    eligible = np.array([False, True, True, True, True])
    keys = rerank_by_exposure(scores, eligible, rerank, np.arange(1, 6))
    # (the best eligible is then 0.9: the penalty is 0.18 x exposure)
    assert keys[0] == 1.0 and keys[1:] == pytest.approx([0.9, 0.71, 0.5, 0.22])
    assert rerank_by_exposure(scores, np.zeros(5, dtype=bool), rerank, np.arange(1, 6)) is scores


def test_a_user_list_puts_a_less_exposed_film_first_but_keeps_its_scores() -> None:
    # The liked film 1 says most about film 2, then 3, then 4; film 2 is in every list.
    catalogue = films(4)
    similarity = neighbours(4, {(0, 1): 0.9, (0, 2): 0.8, (0, 3): 0.5})
    rerank = ExposureRerank(signal=np.array([0.0, 1.0, 0.0, 0.0]), depth=2, strength=0.2)
    plain = rank_for_user(catalogue, liking(0), COLLABORATIVE_ONLY, TODAY, 3, similarity).results
    assert [r.movie_id for r in plain] == [2, 3, 4]
    results = rank_for_user(
        catalogue, liking(0), COLLABORATIVE_ONLY, TODAY, 3, similarity, exposure=rerank
    ).results
    # Keys: film 2 1 - 0.2 = 0.8, film 3 0.8 / 0.9 = 0.889; film 4, beyond the depth, last.
    assert [r.movie_id for r in results] == [3, 2, 4]
    assert [r.score for r in results] == [round(0.8 / 0.9, 4), 1.0, round(0.5 / 0.9, 4)]
    assert results[0].explanation == plain[1].explanation


def test_exposure_counts_each_users_top_films_and_scales_by_log() -> None:
    # Film 1 leads to 2 and 3, film 4 to 3 only: film 3 is in both lists of two.
    catalogue = films(4)
    similarity = neighbours(4, {(0, 1): 1.0, (0, 2): 0.5, (3, 2): 1.0})
    users = [(liking(0), TODAY), (liking(3), TODAY)]
    counts = count_exposure(catalogue, users, COLLABORATIVE_ONLY, similarity, cutoff=1)
    assert list(counts) == [0, 1, 1, 0]  # each user's top film only: 2, then 3
    counts = count_exposure(catalogue, users, COLLABORATIVE_ONLY, similarity, cutoff=2)
    # Top two: user 1 gets 2 and 3, user 2 gets 3, then padding (film 1 by id).
    assert list(counts) == [1, 1, 2, 0]
    once = np.log(2) / np.log(3)  # log(1 + 1) / log(1 + 2)
    assert exposure_signal(counts) == pytest.approx([once, once, 1.0, 0.0])
    assert list(exposure_signal(np.zeros(3))) == [0, 0, 0]
    assert exposure_rerank(counts, 0, 0.2) is None and exposure_rerank(counts, 20, 0) is None


def test_training_counts_exposure_from_each_sampled_users_rows() -> None:
    catalogue = films(4)
    similarity = neighbours(4, {(0, 1): 1.0, (0, 2): 0.5, (3, 2): 1.0})
    # User 7 liked film 1 (rated 9) and disliked film 2; user 8 liked film 4.
    rows = (
        np.array([7, 7, 8]),
        np.array([1, 2, 4]),
        np.array([RATING, RATING, RATING]),
        np.array([9.0, 2.0, 8.0]),
    )
    counts = exposure_of_interactions(
        catalogue, similarity, COLLABORATIVE_ONLY, ServingSettings(), 3, rows, TODAY
    )
    # User 7: film 2 is rated, so 3 then padding 4; user 8: 3, then padding 1 and 2.
    assert list(counts) == [1, 1, 2, 1]
    sampled = exposure_of_interactions(
        catalogue, similarity, COLLABORATIVE_ONLY, ServingSettings(), 3, rows, TODAY, max_users=1
    )
    assert list(sampled) == [1, 1, 1, 0]  # the seeded sample of one: user 8's list


def test_exposure_is_keyed_by_tmdb_id_and_survives_storage() -> None:
    catalogue = films(3)
    exposure = ItemExposure.from_positions(catalogue, np.array([2.0, 0.0, 5.0]))
    assert list(exposure.keys) == [101, 103] and list(exposure.counts) == [2.0, 5.0]
    assert list(align_exposure(exposure, films(4))) == [2.0, 0.0, 5.0, 0.0]
    model = learn_item_model(np.array([1, 1, 2, 2]), np.array([101, 102, 101, 102]))
    stats = ItemModelStats(items=2, users=2, interactions=4, seconds=0.0)
    assert from_bytes(model_bytes(model), stats).exposure is None
    stored = from_bytes(model_bytes(replace(model, exposure=exposure)), stats).exposure
    assert stored is not None
    assert list(stored.keys) == [101, 103] and list(stored.counts) == [2.0, 5.0]
