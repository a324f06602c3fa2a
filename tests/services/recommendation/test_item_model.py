"""The learned item-to-item model: what it learns, from which interactions, and its stored
binary form."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from flask import Flask

from app.models import Genre
from app.services.recommendation.item_model import (
    from_bytes,
    learn_item_model,
    learn_item_similarity,
    to_bytes,
)
from app.services.recommendation.model_versions import load_version, train_model_version
from tests.factories import add_favorites, add_rating, make_movie, make_user

# ---- learning --------------------------------------------------------------------------------


def test_items_liked_by_the_same_users_are_neighbours_and_strangers_are_not() -> None:
    # Users 0-3 like items 0 and 1; users 4-7 like items 2 and 3; item 4 is liked by user 8.
    users = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8])
    items = np.array([0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 4])
    similarity = learn_item_similarity(users, items, n_items=6).toarray()
    assert similarity[0, 1] > 0 and similarity[2, 3] > 0
    assert similarity[0, 2] == 0 and similarity[1, 3] == 0 and similarity[0, 4] == 0
    assert np.all(np.diag(similarity) == 0)
    assert similarity.min() >= 0 and similarity.max() == pytest.approx(1.0)
    assert not similarity[5].any()  # nobody liked item 5


def test_only_the_most_liked_items_take_part_when_there_are_too_many() -> None:
    users = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    items = np.array([0, 1, 0, 1, 0, 1, 2, 3])
    similarity = learn_item_similarity(users, items, n_items=4, max_items=2).toarray()
    assert similarity[0, 1] > 0
    assert not similarity[2].any() and not similarity[:, 3].any()


def test_learning_from_nothing_gives_an_empty_model() -> None:
    empty = np.array([], dtype=np.int64)
    assert learn_item_similarity(empty, empty, n_items=3).nnz == 0


def test_a_version_stored_as_bytes_loads_back_identical() -> None:
    model = learn_item_model(np.array([0, 0, 1, 1, 2, 2]), np.array([10, 20, 10, 20, 10, 30]))
    loaded = from_bytes(to_bytes(model), model.stats, watermark=7)
    assert np.array_equal(loaded.keys, model.keys)
    assert (loaded.similarity != model.similarity).nnz == 0
    assert loaded.similarity.dtype == np.float32 and loaded.watermark == 7


def test_training_learns_from_favorites_and_ratings_of_seven_or_more_only(
    app: Flask, drama: Genre
) -> None:
    movies = [make_movie(app, genres=[drama]) for _ in range(4)]
    fan, critic = make_user(app), make_user(app)
    add_favorites(app, fan, movies[0], movies[1])
    add_rating(app, critic, movies[1], 7)
    add_rating(app, critic, movies[2], 6)  # not a positive interaction
    add_rating(app, critic, movies[3], 10)
    with app.app_context():
        version = train_model_version()
        loaded = load_version(version.id)
    assert (version.users, version.items, version.interactions) == (2, 3, 4)
    assert version.algorithm == "ease"
    assert version.parameters == {"l2": 200.0, "neighbours": 100, "max_items": 2500}
    assert version.weights_bytes > 0 and version.training_seconds >= 0
    assert set(loaded.model.keys.tolist()) == {
        movies[0].tmdb_id,
        movies[1].tmdb_id,
        movies[3].tmdb_id,
    }


def test_a_half_step_rating_of_7_5_is_a_positive_interaction_and_6_5_is_not(
    app: Flask, drama: Genre
) -> None:
    movies = [make_movie(app, genres=[drama]) for _ in range(3)]
    critic = make_user(app)
    add_rating(app, critic, movies[0], Decimal("7.5"))
    add_rating(app, critic, movies[1], Decimal("6.5"))  # not a positive interaction
    add_rating(app, critic, movies[2], Decimal("9.5"))
    with app.app_context():
        version = train_model_version()
        loaded = load_version(version.id)
    assert (version.users, version.items, version.interactions) == (1, 2, 2)
    assert set(loaded.model.keys.tolist()) == {movies[0].tmdb_id, movies[2].tmdb_id}
