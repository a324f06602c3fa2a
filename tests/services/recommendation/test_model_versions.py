"""Model versions: immutable rows, the newest trained one current, rollbacks, the offline
validation stored at training time, and a process that picks a newer version up by itself."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.models import Genre, ItemModelActivation, ItemModelVersion, Movie
from app.services.recommendation import state
from app.services.recommendation.model_versions import (
    activate_version,
    current_version_id,
    list_versions,
    train_model_version,
    training_due,
)
from app.services.recommendation.state import served_model
from app.services.recommender import similar_movies
from tests.factories import add_favorites, make_movie, make_user
from tests.helpers import last_activation, train_model


def version_rows(app: Flask) -> list[tuple[Any, ...]]:
    """Every column of every version, weights included: what must never change."""
    with app.app_context():
        table = ItemModelVersion.__table__
        return [tuple(row) for row in db.session.execute(select(table).order_by(table.c.id))]


def similar_ids(app: Flask, movie: Movie) -> list[int]:
    with app.app_context():
        return [result.movie_id for result in similar_movies(movie.id, limit=3)]


def test_without_a_version_nothing_is_current_and_training_is_due(app: Flask) -> None:
    with app.app_context():
        assert current_version_id() is None
        assert training_due() is True
        assert served_model() is None


def test_each_training_stores_a_new_current_version_and_leaves_the_older_ones_as_they_were(
    app: Flask, drama: Genre
) -> None:
    movies = [make_movie(app, genres=[drama]) for _ in range(3)]
    add_favorites(app, make_user(app), movies[0], movies[1])
    first = train_model(app)
    before = version_rows(app)

    add_favorites(app, make_user(app), movies[1], movies[2])
    second = train_model(app)

    assert second > first
    rows = version_rows(app)
    assert rows[0] == before[0]  # the first version is untouched, weights and all
    with app.app_context():
        assert current_version_id() == second
        assert [version.id for version in list_versions()] == [second, first]
        reasons = db.session.scalars(
            select(ItemModelActivation.reason).order_by(ItemModelActivation.id)
        ).all()
    assert reasons == ["trained", "trained"]


def test_a_rollback_makes_an_older_version_current_without_changing_any_version(
    app: Flask, drama: Genre
) -> None:
    heat, companion, other = (make_movie(app, genres=[drama]) for _ in range(3))
    for _ in range(3):
        add_favorites(app, make_user(app), heat, companion)
    first = train_model(app)
    for _ in range(6):
        add_favorites(app, make_user(app), heat, other)
    second = train_model(app)
    assert similar_ids(app, heat)[0] == other.id
    before = version_rows(app)
    staff = make_user(app, is_staff=True)

    with app.app_context():
        activate_version(first, activated_by_id=staff.id)

    assert version_rows(app) == before
    with app.app_context():
        assert current_version_id() == first
    assert last_activation(app) == (first, "rollback", staff.id)
    assert similar_ids(app, heat)[0] == companion.id  # served from the first version again
    # The next training makes the newest version current again.
    third = train_model(app)
    with app.app_context():
        assert current_version_id() == third != second


def test_rolling_back_to_an_unknown_version_is_not_found_and_changes_nothing(app: Flask) -> None:
    with app.app_context():
        with pytest.raises(NotFound):
            activate_version(999)
        assert db.session.scalar(select(ItemModelActivation.id)) is None


def test_a_newer_version_is_served_without_a_restart(app: Flask, drama: Genre) -> None:
    heat, companion, other = (make_movie(app, genres=[drama]) for _ in range(3))
    for _ in range(3):
        add_favorites(app, make_user(app), heat, companion)
    train_model(app)
    assert similar_ids(app, heat)[0] == companion.id
    for _ in range(6):
        add_favorites(app, make_user(app), heat, other)
    assert similar_ids(app, heat)[0] == companion.id  # no new version yet: unchanged

    newer = train_model(app)

    # The same process, caches kept: it looks up the current version and swaps it in.
    assert similar_ids(app, heat)[0] == other.id
    with app.app_context():
        served = served_model()
    assert served is not None and served.version_id == newer


def test_between_checks_the_loaded_version_serves_without_a_lookup(
    app: Flask, drama: Genre, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_MODEL_CHECK_SECONDS", 3600)
    heat, companion, other = (make_movie(app, genres=[drama]) for _ in range(3))
    for _ in range(3):
        add_favorites(app, make_user(app), heat, companion)
    first = train_model(app)
    assert similar_ids(app, heat)[0] == companion.id
    for _ in range(6):
        add_favorites(app, make_user(app), heat, other)
    train_model(app)

    assert similar_ids(app, heat)[0] == companion.id  # within the interval: the loaded one
    with app.app_context():
        served = served_model()
        assert served is not None and served.version_id == first
        assert served_model(check=True).version_id != first  # type: ignore[union-attr]
    assert similar_ids(app, heat)[0] == other.id


def test_training_is_requested_once_while_no_version_exists(
    app: Flask, drama: Genre, training_requests: list[str]
) -> None:
    movie = make_movie(app, genres=[drama])
    for _ in range(3):
        similar_ids(app, movie)
    assert len(training_requests) == 1 and "no item model version" in training_requests[0]


def test_training_is_due_after_the_configured_number_of_new_interactions(
    app: Flask, drama: Genre, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_REBUILD_AFTER", 3)
    movies = [make_movie(app, genres=[drama]) for _ in range(4)]
    user = make_user(app)
    add_favorites(app, user, movies[0])
    train_model(app)
    add_favorites(app, user, movies[1], movies[2])
    with app.app_context():
        assert training_due() is False  # two new: not yet
    add_favorites(app, user, movies[3])
    with app.app_context():
        assert training_due() is True


def test_training_stores_its_offline_validation_on_a_temporal_split(
    app: Flask, drama: Genre
) -> None:
    # Two taste groups: each user liked four films of their group long ago and one more of
    # it lately; the held-out latest like should be found again in the top 10.
    group_a = [make_movie(app, genres=[drama]) for _ in range(6)]
    group_b = [make_movie(app, genres=[drama]) for _ in range(6)]
    for group in (group_a, group_b):
        for n in range(6):
            user = make_user(app)
            earlier = [movie for i, movie in enumerate(group) if i != n][:4]
            add_favorites(app, user, *earlier, days_ago=30)
            add_favorites(app, user, group[n], days_ago=1)

    with app.app_context():
        version = train_model_version()
    assert version.validation_users == 12
    assert version.ndcg_at_10 is not None and 0 < version.ndcg_at_10 <= 1
    assert version.coverage_at_10 is not None and 0 < version.coverage_at_10 <= 1


def test_with_too_few_interactions_the_validation_is_left_empty(app: Flask, drama: Genre) -> None:
    movies = [make_movie(app, genres=[drama]) for _ in range(2)]
    add_favorites(app, make_user(app), *movies)
    with app.app_context():
        version = train_model_version()
    assert (version.validation_users, version.ndcg_at_10, version.coverage_at_10) == (
        0,
        None,
        None,
    )


def test_a_version_gone_before_it_loads_leaves_the_loaded_one_serving(
    app: Flask, drama: Genre, monkeypatch: pytest.MonkeyPatch
) -> None:
    heat, companion, _ = (make_movie(app, genres=[drama]) for _ in range(3))
    for _ in range(3):
        add_favorites(app, make_user(app), heat, companion)
    first = train_model(app)
    assert similar_ids(app, heat)[0] == companion.id
    train_model(app)

    def deleted_meanwhile(version_id: int) -> None:
        raise NotFound(f"Model version {version_id} does not exist.", code="model_not_found")

    monkeypatch.setattr(state, "load_version", deleted_meanwhile)
    assert similar_ids(app, heat)[0] == companion.id  # no 404 for the request
    with app.app_context():
        served = served_model()
    assert served is not None and served.version_id == first
