"""Persistence of recommendation batches: replacement, ranks, freshness, and feedback that
outlives the batch it was given on."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import delete, select

from app.errors import NotFound
from app.extensions import db
from app.models import Movie, Recommendation, RecommendationFeedback, User, UserProfile
from app.services.recommendation.batches import (
    ensure_fresh_recommendations,
    generate_recommendations,
    list_batch,
    save_batch,
)
from app.services.recommendation.feedback import give_feedback
from app.services.recommendation.ranking import RecommendedMovie
from app.services.recommendation.staleness import mark_recommendations_stale
from tests.factories import make_movie, make_user


def result(movie: Movie, confidence: float = 0.5, reason: str = "Because") -> RecommendedMovie:
    return RecommendedMovie(
        movie_id=movie.id,
        score=confidence,
        confidence=confidence,
        recommendation_type="hybrid",
        explanation=reason,
    )


def catalogue(app: Flask, count: int) -> list[Movie]:
    return [
        make_movie(app, popularity=300.0 - n, vote_count=1500, release_date=date(2010, 5, 1))
        for n in range(count)
    ]


def stored(user: User) -> list[tuple[int, int, str]]:
    """(rank, movie_id, explanation) of the user's rows; inside an app context."""
    return [
        (row.rank, row.movie_id, row.explanation)
        for row in db.session.scalars(
            select(Recommendation)
            .where(Recommendation.user_id == user.id)
            .order_by(Recommendation.rank)
        )
    ]


def test_saving_a_batch_replaces_the_previous_one_in_rank_order(app: Flask) -> None:
    user, other = make_user(app), make_user(app)
    movies = catalogue(app, 6)
    with app.app_context():
        save_batch(other.id, [result(movies[0])])
        save_batch(user.id, [result(movie, reason="old") for movie in movies[:4]])
        db.session.commit()
        save_batch(user.id, [result(movies[5], reason="new"), result(movies[1], reason="new")])
        db.session.commit()

        assert stored(user) == [(1, movies[5].id, "new"), (2, movies[1].id, "new")]
        assert stored(other) == [(1, movies[0].id, "Because")]  # nobody else's batch moves
        profile = db.session.scalar(select(UserProfile).where(UserProfile.user_id == user.id))
        assert profile is not None
        assert profile.recommendations_stale is False
        assert profile.recommendations_generated_at is not None


def test_a_movie_repeated_by_the_engine_is_stored_once(app: Flask) -> None:
    user = make_user(app)
    first, second = catalogue(app, 2)
    with app.app_context():
        save_batch(user.id, [result(first), result(second), result(first)])
        db.session.commit()
        assert stored(user) == [(1, first.id, "Because"), (2, second.id, "Because")]


def test_confidence_is_kept_within_0_and_1(app: Flask) -> None:
    user = make_user(app)
    high, low = catalogue(app, 2)
    with app.app_context():
        save_batch(user.id, [result(high, confidence=1.0000001), result(low, confidence=-0.01)])
        db.session.commit()
        scores = db.session.scalars(
            select(Recommendation.confidence_score).order_by(Recommendation.rank)
        ).all()
        assert scores == [1.0, 0.0]


def test_feedback_survives_a_new_batch_and_follows_its_movie(app: Flask) -> None:
    user = make_user(app)
    kept, dropped, fresh = catalogue(app, 3)
    with app.app_context():
        save_batch(user.id, [result(kept), result(dropped)])
        db.session.commit()
        rows = {row.recommendation.movie_id: row.recommendation for row in list_batch(user.id)}
        liked, _ = give_feedback(user.id, rows[kept.id].id, "like", "Yes")
        disliked, _ = give_feedback(user.id, rows[dropped.id].id, "dislike")

        save_batch(user.id, [result(fresh), result(kept)])
        db.session.commit()

        feedback = {row.movie_id: row for row in db.session.scalars(select(RecommendationFeedback))}
        assert set(feedback) == {kept.id, dropped.id}
        new_row = db.session.scalar(
            select(Recommendation).where(Recommendation.movie_id == kept.id)
        )
        assert new_row is not None and new_row.rank == 2
        assert feedback[kept.id].recommendation_id == new_row.id  # linked to the new row
        assert (feedback[kept.id].feedback_type, feedback[kept.id].comment) == ("like", "Yes")
        assert feedback[dropped.id].recommendation_id is None  # kept, unlinked
        assert feedback[dropped.id].feedback_type == "dislike"
        views = list_batch(user.id)
        assert [view.feedback.id if view.feedback else None for view in views] == [
            None,
            liked.id,
        ]
        assert disliked.id == feedback[dropped.id].id


def test_feedback_on_a_movie_is_one_row_even_across_batches(app: Flask) -> None:
    user = make_user(app)
    (movie,) = catalogue(app, 1)
    with app.app_context():
        save_batch(user.id, [result(movie)])
        db.session.commit()
        first_row = list_batch(user.id)[0].recommendation.id
        first, created = give_feedback(user.id, first_row, "like")
        assert created is True
        save_batch(user.id, [result(movie)])
        db.session.commit()
        second_row = list_batch(user.id)[0].recommendation.id
        second, created = give_feedback(user.id, second_row, "not_interested", "Changed my mind")
        assert created is False and second.id == first.id
        assert second.recommendation_id == second_row
        assert len(db.session.scalars(select(RecommendationFeedback)).all()) == 1


def test_a_fresh_batch_is_not_regenerated_and_a_stale_one_is(app: Flask) -> None:
    user = make_user(app)
    movies = catalogue(app, 25)
    with app.app_context():
        save_batch(user.id, [result(movie, reason="stored") for movie in movies[:20]])
        db.session.commit()
        ensure_fresh_recommendations(user.id, 20)
        assert {row[2] for row in stored(user)} == {"stored"}

        mark_recommendations_stale(user.id)
        db.session.commit()
        ensure_fresh_recommendations(user.id, 20)
        rows = stored(user)
        assert len(rows) == 20 and "stored" not in {row[2] for row in rows}
        profile = db.session.scalar(select(UserProfile).where(UserProfile.user_id == user.id))
        assert profile is not None and profile.recommendations_stale is False


def test_a_batch_smaller_than_the_limit_asked_for_is_regenerated(app: Flask) -> None:
    user = make_user(app)
    movies = catalogue(app, 40)
    with app.app_context():
        save_batch(user.id, [result(movie) for movie in movies[:20]])
        db.session.commit()
        ensure_fresh_recommendations(user.id, 30)
        assert len(stored(user)) == 30


def test_generation_creates_a_missing_profile(app: Flask) -> None:
    user = make_user(app)
    catalogue(app, 5)
    with app.app_context():
        db.session.execute(delete(UserProfile).where(UserProfile.user_id == user.id))
        db.session.commit()
        batch = generate_recommendations(user.id, 3)
        assert len(batch) == 3
        assert set(batch.scores) == {view.recommendation.movie_id for view in batch.recommendations}
        profile = db.session.scalar(select(UserProfile).where(UserProfile.user_id == user.id))
        assert profile is not None and profile.recommendations_stale is False


def test_generation_for_an_unknown_user_is_not_found(app: Flask) -> None:
    with app.app_context(), pytest.raises(NotFound):
        generate_recommendations(987654)
