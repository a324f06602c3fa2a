"""Persistence of recommendation batches: replacement, ranks, freshness, and feedback that
outlives the batch it was given on."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from app.errors import NotFound
from app.extensions import db
from app.models import Movie, Recommendation, RecommendationFeedback, User, UserProfile
from app.services.library import add_favorite, delete_rating, rate_movie
from app.services.recommendation.batches import (
    ensure_fresh_recommendations,
    generate_recommendations,
    list_batch,
    save_batch,
)
from app.services.recommendation.feedback import give_feedback, record_click
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
    """(rank, movie_id, explanation) of the user's current rows; inside an app context."""
    return [
        (row.rank, row.movie_id, row.explanation)
        for row in db.session.scalars(
            select(Recommendation)
            .where(Recommendation.user_id == user.id, Recommendation.removed_at.is_(None))
            .order_by(Recommendation.rank)
        )
    ]


def row_ids(user: User) -> dict[int, tuple[int, bool]]:
    """movie_id -> (row id, removed) of every row of the user, removed ones included."""
    return {
        row.movie_id: (row.id, row.removed_at is not None)
        for row in db.session.scalars(
            select(Recommendation).where(Recommendation.user_id == user.id)
        )
    }


def test_saving_a_batch_makes_it_the_current_one_in_rank_order(app: Flask) -> None:
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
        assert feedback[kept.id].recommendation_id == new_row.id == rows[kept.id].id
        assert (feedback[kept.id].feedback_type, feedback[kept.id].comment) == ("like", "Yes")
        # The departed movie's row is soft-removed, so its feedback keeps its link.
        assert feedback[dropped.id].recommendation_id == rows[dropped.id].id
        assert feedback[dropped.id].feedback_type == "dislike"
        views = list_batch(user.id)
        assert [view.feedback.id if view.feedback else None for view in views] == [
            None,
            liked.id,
        ]
        assert disliked.id == feedback[dropped.id].id


def test_a_kept_movie_keeps_its_row_and_history_and_takes_the_new_values(app: Flask) -> None:
    user = make_user(app)
    kept, dropped, returning, fresh = catalogue(app, 4)
    with app.app_context():
        save_batch(user.id, [result(kept, 0.9, "first"), result(dropped), result(returning)])
        db.session.commit()
        save_batch(user.id, [result(kept, 0.9, "first"), result(dropped)])  # returning leaves
        db.session.commit()
        before = row_ids(user)
        first_row = db.session.scalar(
            select(Recommendation).where(Recommendation.movie_id == kept.id)
        )
        assert first_row is not None
        record_click(user.id, first_row.id)
        created_at, clicked_at = first_row.created_at, first_row.clicked_at
        assert clicked_at is not None

        reasons = ({"kind": "liked_movie", "movie": {"id": fresh.id, "title": "Ünïcode"}},)
        new_batch = [
            result(fresh),
            RecommendedMovie(
                movie_id=kept.id,
                score=0.25,
                confidence=0.25,
                recommendation_type="collaborative",
                explanation="second",
                reasons=reasons,
            ),
            result(returning, 0.75, "back"),
        ]
        save_batch(user.id, new_batch)
        db.session.commit()
        db.session.expire_all()

        after = row_ids(user)
        assert after[kept.id] == (before[kept.id][0], False)
        assert after[returning.id] == (before[returning.id][0], False)  # brought back, same id
        assert after[dropped.id] == (before[dropped.id][0], True)
        assert fresh.id in after and after[fresh.id][1] is False
        row = db.session.get(Recommendation, after[kept.id][0])
        assert row is not None
        assert (row.rank, row.confidence_score, row.recommendation_type, row.explanation) == (
            2,
            0.25,
            "collaborative",
            "second",
        )
        assert row.reasons == [dict(reason) for reason in reasons]
        assert (row.created_at, row.clicked_at) == (created_at, clicked_at)
        assert row.updated_at > created_at
        back = db.session.get(Recommendation, after[returning.id][0])
        assert back is not None
        assert (back.rank, back.confidence_score, back.explanation) == (3, 0.75, "back")
        assert stored(user) == [
            (1, fresh.id, "Because"),
            (2, kept.id, "second"),
            (3, returning.id, "back"),
        ]


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
        assert second_row == first_row  # the same movie keeps its recommendation
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


def test_a_movie_that_stays_keeps_its_id_and_is_updated_in_place(app: Flask) -> None:
    user = make_user(app)
    a, b, c, d = catalogue(app, 4)
    with app.app_context():
        save_batch(user.id, [result(a), result(b, reason="old"), result(c)])
        db.session.commit()
        before = row_ids(user)

        save_batch(user.id, [result(b, confidence=0.9, reason="new"), result(d)])
        db.session.commit()
        after = row_ids(user)

        assert after[b.id] == (before[b.id][0], False)
        assert stored(user) == [(1, b.id, "new"), (2, d.id, "Because")]
        # The movies that left are soft-removed, not deleted: their ids stay theirs.
        assert after[a.id] == (before[a.id][0], True)
        assert after[c.id] == (before[c.id][0], True)
        assert after[d.id][0] > max(row_id for row_id, _ in before.values())

        save_batch(user.id, [result(c), result(b)])  # c comes back: with its old id
        db.session.commit()
        assert row_ids(user)[c.id] == (before[c.id][0], False)


def test_ids_are_never_reused_even_after_a_row_is_deleted(app: Flask) -> None:
    user, other = make_user(app), make_user(app)
    first, second = catalogue(app, 2)
    with app.app_context():
        save_batch(user.id, [result(first)])
        db.session.commit()
        deleted_id = row_ids(user)[first.id][0]
        # The highest id goes (a user or movie deleted cascades like this).
        db.session.execute(delete(Recommendation).where(Recommendation.id == deleted_id))
        db.session.commit()

        save_batch(other.id, [result(second)])
        db.session.commit()
        assert row_ids(other)[second.id][0] > deleted_id


def test_clicked_rated_and_favorited_survive_regeneration(app: Flask) -> None:
    user = make_user(app)
    clicked, rated, favorited, other = catalogue(app, 4)
    with app.app_context():
        save_batch(user.id, [result(clicked), result(rated), result(favorited)])
        db.session.commit()
        ids = {movie_id: row_id for movie_id, (row_id, _) in row_ids(user).items()}
        record_click(user.id, ids[clicked.id])
        rate_movie(user.id, movie_id=rated.id, rating=8)
        add_favorite(user.id, movie_id=favorited.id)

        # Tastes changed: the rated and favourited movies leave, the clicked one stays.
        save_batch(user.id, [result(clicked), result(other)])
        db.session.commit()
        save_batch(user.id, [result(other), result(clicked), result(rated)])
        db.session.commit()

        rows = {
            row.movie_id: row
            for row in db.session.scalars(
                select(Recommendation).where(Recommendation.user_id == user.id)
            )
        }
        assert rows[clicked.id].id == ids[clicked.id] and rows[clicked.id].is_clicked
        assert rows[rated.id].id == ids[rated.id] and rows[rated.id].is_rated
        assert rows[favorited.id].favorited_at is not None
        assert rows[favorited.id].removed_at is not None
        assert not rows[other.id].is_clicked and not rows[other.id].is_rated
        clicked_count = db.session.scalar(
            select(func.count(Recommendation.id)).where(Recommendation.is_clicked)
        )
        assert clicked_count == 1


def test_a_deleted_rating_leaves_the_recommendation_rated(app: Flask) -> None:
    user = make_user(app)
    (movie,) = catalogue(app, 1)
    with app.app_context():
        save_batch(user.id, [result(movie)])
        db.session.commit()
        rating = rate_movie(user.id, movie_id=movie.id, rating=4)
        delete_rating(user.id, rating.id)
        row = db.session.scalar(select(Recommendation).where(Recommendation.user_id == user.id))
        assert row is not None and row.is_rated and row.rated_at is not None
