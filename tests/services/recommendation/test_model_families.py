"""Each item model family the tuner may choose ranks a tiny example with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from app.services.recommendation.item_model import (
    ModelSettings,
    keep_strongest_per_row,
    learn_similarity,
    reweight_by_popularity,
)
from app.services.recommendation.rp3beta import learn_rp3beta_similarity
from app.services.recommendation.sequence import learn_sequence_similarity

# Users 0-5 like items 0, 1 and 2; users 6-11 like items 3, 4 and 5: two taste clusters.
USERS = np.repeat(np.arange(12), 3)
ITEMS = np.concatenate([[0, 1, 2]] * 6 + [[3, 4, 5]] * 6)

FAMILIES = [
    ModelSettings("ease", l2=1.0),
    ModelSettings("rp3beta", alpha=1.0, beta=0.5),
    ModelSettings("als", factors=4, regularization=0.01, iterations=20),
]


@pytest.mark.parametrize("settings", FAMILIES, ids=lambda s: s.family)
def test_each_family_recommends_the_other_films_of_the_same_cluster(
    settings: ModelSettings,
) -> None:
    similarity = learn_similarity(settings, USERS, ITEMS, 7).toarray()
    # Someone who liked item 0 gets items 1 and 2 first; item 3's fans get 4 and 5.
    for liked, expected in ((0, {1, 2}), (3, {4, 5})):
        scores = similarity[liked].copy()
        scores[liked] = -np.inf
        assert set(np.argsort(-scores, kind="stable")[:2].tolist()) == expected
        others = [i for i in range(6) if i not in expected | {liked}]
        assert scores[list(expected)].min() > scores[others].max()
    assert np.all(np.diag(similarity) == 0)
    assert not similarity[6].any() and not similarity[:, 6].any()  # nobody met item 6
    assert similarity.max() == pytest.approx(1.0)


def test_rp3beta_is_the_three_step_walk_divided_by_popularity_to_the_beta() -> None:
    # Two users: u0 liked items 0 and 1, u1 liked items 0, 1 and 2.
    users = np.array([0, 0, 1, 1, 1])
    items = np.array([0, 1, 0, 1, 2])
    similarity = learn_rp3beta_similarity(
        users, items, 3, alpha=1.0, beta=1.0, neighbours=5, max_items=10
    ).toarray()
    # From item 0: P(u0|0) = P(u1|0) = 1/2; then P(1|u0) = 1/2, P(1|u1) = P(2|u1) = 1/3.
    # W[0,1] = (1/2 * 1/2 + 1/2 * 1/3) / 2 users = 5/24; W[0,2] = (1/2 * 1/3) / 1 user = 1/6.
    # 5/24 is also the largest weight of all, so the scaled row is (1, 4/5).
    assert similarity[0, 1:] == pytest.approx([1.0, (1 / 6) / (5 / 24)])


def test_beta_turns_a_popular_neighbour_into_a_niche_one() -> None:
    # Item 0's fans all like popular item 1; two of them also like niche item 2.
    users = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 6])
    items = np.array([0, 1, 2, 0, 1, 2, 0, 1, 1, 1, 1, 1])

    def neighbour(beta: float) -> int:
        weights = learn_rp3beta_similarity(
            users, items, 3, alpha=1.0, beta=beta, neighbours=5, max_items=10
        ).toarray()
        return int(np.argmax(weights[0]))

    assert neighbour(0.0) == 1
    assert neighbour(1.0) == 2


def test_a_positive_popularity_exponent_favours_the_less_popular_target() -> None:
    similarity = learn_similarity(ModelSettings("ease", l2=1.0), USERS, ITEMS, 7)
    # Make item 1 far more popular than item 2 in the counts.
    items = np.concatenate([ITEMS, np.ones(50, dtype=np.int64)])
    penalised = reweight_by_popularity(similarity, items, 0.5).toarray()
    boosted = reweight_by_popularity(similarity, items, -0.5).toarray()
    assert penalised[0, 2] > penalised[0, 1]
    assert boosted[0, 1] > boosted[0, 2]
    assert penalised.max() == pytest.approx(1.0)


def test_settings_refuse_an_unknown_family() -> None:
    with pytest.raises(ValueError, match="family"):
        ModelSettings("svd")


# ---- the sequence model ----------------------------------------------------------------------


def test_the_sequence_model_weighs_what_was_liked_next_by_the_step() -> None:
    # User 0 liked 0, 1, 2 in that order; user 1 liked 0 then 2.
    users = np.array([0, 0, 0, 1, 1])
    items = np.array([0, 1, 2, 0, 2])
    times = np.array([10, 20, 30, 10, 20])
    similarity = learn_sequence_similarity(users, items, times, 3, window=2, neighbours=5).toarray()
    # Counts n = (2, 1, 2). W[0,1] = 1/1 / sqrt(2*1); W[0,2] = (1/2 + 1/1) / sqrt(2*2) = 0.75;
    # W[1,2] = 1 / sqrt(1*2). Nothing points backwards.
    raw = np.array([[0, 1 / np.sqrt(2), 0.75], [0, 0, 1 / np.sqrt(2)], [0, 0, 0]])
    assert similarity == pytest.approx(raw / raw.max())
    # A window of one step forgets that 2 followed 0 two steps later for user 0.
    short = learn_sequence_similarity(users, items, times, 3, window=1, neighbours=5).toarray()
    raw[0, 2] = 1 / np.sqrt(2 * 2)
    assert short == pytest.approx(raw / raw.max())


def test_a_sequence_mix_recommends_what_follows_and_needs_the_times() -> None:
    # Everyone liked items 0, 1 and 2 (no co-occurrence preference), always in that order.
    users = np.repeat(np.arange(6), 3)
    items = np.tile([0, 1, 2], 6)
    times = np.tile([1, 2, 3], 6)
    settings = ModelSettings("ease", l2=1.0, sequence_mix=1.0, sequence_window=1)
    similarity = learn_similarity(settings, users, items, 3, timestamps=times).toarray()
    assert np.argmax(similarity[0]) == 1 and np.argmax(similarity[1]) == 2
    assert not similarity[2].any()  # nothing ever followed item 2
    with pytest.raises(ValueError, match="timestamps"):
        learn_similarity(settings, users, items, 3)


def test_keeping_the_strongest_neighbours_drops_negatives_and_rescales() -> None:
    matrix = sp.csr_matrix(np.array([[0, 4.0, -1, 2, 3], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]))
    kept = keep_strongest_per_row(matrix, 2).toarray()
    assert kept.tolist() == [[0, 1, 0, 0, 0.75], [0.25, 0, 0, 0, 0], [0, 0, 0, 0, 0]]


def test_settings_refuse_a_sequence_mix_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="sequence_mix"):
        ModelSettings(sequence_mix=1.5)
