"""The database itself refuses bad rows, whatever the Python code does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Favorite, Movie, Rating, RecommendationFeedback, User
from tests.factories import make_movie, make_recommendation, make_user


def insert_and_commit(app: Flask, *rows: object) -> None:
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()


def test_duplicate_favorite_is_refused_by_the_database(app: Flask) -> None:
    user, movie = make_user(app), make_movie(app)
    insert_and_commit(app, Favorite(user_id=user.id, movie_id=movie.id))
    with pytest.raises(IntegrityError):
        insert_and_commit(app, Favorite(user_id=user.id, movie_id=movie.id))


@pytest.mark.parametrize(
    "value", [0, 11, -3, Decimal("7.25"), Decimal("0.5"), Decimal("10.5"), Decimal("9.9")]
)
def test_rating_off_the_half_step_scale_is_refused_by_the_database(
    app: Flask, value: Decimal
) -> None:
    user, movie = make_user(app), make_movie(app)
    with pytest.raises(IntegrityError) as refused:
        insert_and_commit(app, Rating(user_id=user.id, movie_id=movie.id, rating=value))
    assert "ck_ratings_rating_scale" in str(refused.value)


@pytest.mark.parametrize("value", ["1", "1.5", "7.5", "10"])
def test_half_steps_from_1_to_10_are_stored_exactly(app: Flask, value: str) -> None:
    user, movie = make_user(app), make_movie(app)
    rating = Rating(user_id=user.id, movie_id=movie.id, rating=Decimal(value))
    insert_and_commit(app, rating)
    with app.app_context():
        stored = db.session.scalar(select(Rating.rating).where(Rating.user_id == user.id))
    assert isinstance(stored, Decimal) and stored == Decimal(value)


def test_duplicate_rating_is_refused_by_the_database(app: Flask) -> None:
    user, movie = make_user(app), make_movie(app)
    insert_and_commit(app, Rating(user_id=user.id, movie_id=movie.id, rating=8))
    with pytest.raises(IntegrityError):
        insert_and_commit(app, Rating(user_id=user.id, movie_id=movie.id, rating=9))


def test_duplicate_tmdb_id_is_refused_by_the_database(app: Flask) -> None:
    make_movie(app, tmdb_id=4242)
    with pytest.raises(IntegrityError):
        insert_and_commit(app, Movie(tmdb_id=4242, title="Impostor"))


def test_recommendation_type_and_confidence_are_checked(app: Flask) -> None:
    user, movie = make_user(app), make_movie(app)
    with pytest.raises(IntegrityError):
        make_recommendation(app, user, movie, recommendation_type="magic", confidence_score=0.5)
    with pytest.raises(IntegrityError):
        make_recommendation(app, user, movie, recommendation_type="hybrid", confidence_score=1.5)


def test_feedback_is_unique_per_user_and_movie(app: Flask) -> None:
    user, movie = make_user(app), make_movie(app)
    insert_and_commit(
        app, RecommendationFeedback(user_id=user.id, movie_id=movie.id, feedback_type="like")
    )
    with pytest.raises(IntegrityError):
        insert_and_commit(
            app,
            RecommendationFeedback(user_id=user.id, movie_id=movie.id, feedback_type="dislike"),
        )


def test_a_rolled_back_conflict_leaves_no_row_behind(app: Flask) -> None:
    """Isolation check: the app's rollback must not undo the test's savepoint scheme."""
    user, movie = make_user(app), make_movie(app)
    with app.app_context():
        db.session.add(Favorite(user_id=user.id, movie_id=movie.id))
        db.session.add(Favorite(user_id=user.id, movie_id=movie.id))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert db.session.query(Favorite).count() == 0
        assert db.session.get(Movie, movie.id) is not None


def test_usernames_differing_only_in_case_are_refused_by_the_database(app: Flask) -> None:
    make_user(app, username="Bob")
    with pytest.raises(IntegrityError):
        insert_and_commit(app, User(email="other-bob@example.com", username="bob"))
