"""The learned item-to-item model: what it learns, when it is rebuilt, and that a request never
waits for a rebuild."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pytest
from flask import Flask

from app.extensions import db
from app.models import Favorite, Genre, Movie, Rating, User
from app.services.recommendation.item_model import learn_item_similarity
from app.services.recommendation.state import model_store
from app.services.recommender import rebuild_item_model, recommend_for_user, reset_caches
from tests.factories import make_genre, make_movie, make_user


@pytest.fixture(autouse=True)
def fresh_engine(app: Flask) -> Iterator[None]:
    with app.app_context():
        reset_caches()
    yield
    with app.app_context():
        reset_caches()


@pytest.fixture
def drama(app: Flask) -> Genre:
    return make_genre(app, tmdb_id=18, name="Drama")


def favorite(app: Flask, user: User, *movies: Movie) -> None:
    with app.app_context():
        db.session.add_all(Favorite(user_id=user.id, movie_id=movie.id) for movie in movies)
        db.session.commit()


def rate(app: Flask, user: User, movie: Movie, value: int | Decimal) -> None:
    with app.app_context():
        db.session.add(Rating(user_id=user.id, movie_id=movie.id, rating=value))
        db.session.commit()


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


def test_rebuild_learns_from_favorites_and_ratings_of_seven_or_more_only(
    app: Flask, drama: Genre
) -> None:
    movies = [make_movie(app, genres=[drama]) for _ in range(4)]
    fan, critic = make_user(app), make_user(app)
    favorite(app, fan, movies[0], movies[1])
    rate(app, critic, movies[1], 7)
    rate(app, critic, movies[2], 6)  # not a positive interaction
    rate(app, critic, movies[3], 10)
    with app.app_context():
        stats = rebuild_item_model()
        model = model_store().model
    assert (stats.users, stats.items, stats.interactions) == (2, 3, 4)
    assert model is not None
    assert set(model.keys.tolist()) == {movies[0].tmdb_id, movies[1].tmdb_id, movies[3].tmdb_id}


def test_a_half_step_rating_of_7_5_is_a_positive_interaction_and_6_5_is_not(
    app: Flask, drama: Genre
) -> None:
    movies = [make_movie(app, genres=[drama]) for _ in range(3)]
    critic = make_user(app)
    rate(app, critic, movies[0], Decimal("7.5"))
    rate(app, critic, movies[1], Decimal("6.5"))  # not a positive interaction
    rate(app, critic, movies[2], Decimal("9.5"))
    with app.app_context():
        stats = rebuild_item_model()
        model = model_store().model
    assert (stats.users, stats.items, stats.interactions) == (1, 2, 2)
    assert model is not None
    assert set(model.keys.tolist()) == {movies[0].tmdb_id, movies[2].tmdb_id}


# ---- the rebuild policy ----------------------------------------------------------------------


def test_the_model_is_rebuilt_after_the_configured_number_of_new_interactions(
    app: Flask, drama: Genre, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_REBUILD_AFTER", 3)
    movies = [make_movie(app, genres=[drama]) for _ in range(6)]
    user = make_user(app)
    favorite(app, user, movies[0])
    with app.app_context():
        recommend_for_user(user.id)  # outside a request: the first model is learned here
        first = model_store().model
    assert first is not None and first.stats.interactions == 1

    favorite(app, user, movies[1], movies[2])
    with app.app_context():
        recommend_for_user(user.id)
        assert model_store().model is first  # two new: not yet

    rate(app, user, movies[3], 8)
    with app.app_context():
        recommend_for_user(user.id)
        rebuilt = model_store().model
    assert rebuilt is not first and rebuilt is not None
    assert rebuilt.stats.interactions == 4


def test_a_request_never_waits_for_a_rebuild_and_keeps_the_old_model_meanwhile(
    app: Flask, drama: Genre, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_REBUILD_AFTER", 1)
    movies = [make_movie(app, genres=[drama]) for _ in range(3)]
    user = make_user(app)
    favorite(app, user, movies[0])
    with app.app_context():
        rebuild_item_model()
        store = model_store()
        old = store.model
    favorite(app, user, movies[1])  # a rebuild is now due
    # A build is already under way (its lock is held): the request must not start or wait
    # for another, and it serves the old model.
    assert store._build_lock.acquire(blocking=False)
    try:
        with app.test_request_context():
            results = recommend_for_user(user.id)
        assert store.model is old
        assert [r.movie_id for r in results] == [movies[2].id]
    finally:
        store._build_lock.release()


@pytest.mark.committing
def test_inside_a_request_the_rebuild_runs_in_a_background_thread(app: Flask, drama: Genre) -> None:
    movies = [make_movie(app, genres=[drama]) for _ in range(3)]
    user = make_user(app)
    favorite(app, user, movies[0], movies[1])
    with app.test_request_context():
        recommend_for_user(user.id)
        store = model_store()
        thread = store._thread
    assert thread is not None and thread.name == "item-model-rebuild"
    store.wait(timeout=30)
    assert store.model is not None
    assert store.model.stats.interactions == 2
