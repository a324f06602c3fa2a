"""What users tell us about their recommendations: feedback (one per movie), dismissals
(feedback of type "dismissed", undone by deleting it) and clicks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.errors import NotFound
from app.extensions import db
from app.models import Movie, Recommendation, RecommendationFeedback, utcnow
from app.services.pagination import Page, paginate
from app.services.recommendation.batches import (
    StoredRecommendation,
    attach_feedback,
    get_user_recommendation,
)
from app.services.recommendation.staleness import mark_recommendations_stale
from app.services.recommendation_impressions import record_outcome


def give_feedback(
    user_id: int, recommendation_id: int, feedback_type: str, comment: str = ""
) -> tuple[RecommendationFeedback, bool]:
    """Record the user's feedback on one of their recommendations; a second feedback on
    the same movie replaces the first. Returns (feedback, created). Marks the user's
    recommendations stale. Commits. NotFound for another user's recommendation."""
    recommendation = get_user_recommendation(user_id, recommendation_id)
    feedback, created = _store_feedback(recommendation, feedback_type, comment)
    record_outcome(user_id, recommendation.movie_id, feedback_outcome(feedback_type))
    mark_recommendations_stale(user_id)
    db.session.commit()
    return _load_feedback(feedback.id), created


def dismiss(user_id: int, recommendation_id: int) -> None:
    """Hide one of the user's recommendations for good: "dismissed" feedback on its movie
    (replacing any other) keeps the movie out of every later batch, and the row leaves the
    current list now. Commits. NotFound for another user's recommendation."""
    recommendation = get_user_recommendation(user_id, recommendation_id)
    _store_feedback(recommendation, "dismissed", "")
    record_outcome(user_id, recommendation.movie_id, "dismiss")
    if recommendation.removed_at is None:
        recommendation.removed_at = utcnow()
    mark_recommendations_stale(user_id)
    db.session.commit()


def feedback_outcome(feedback_type: str) -> str:
    """The outcome a feedback type records (a "dismissed" feedback is a dismissal)."""
    return "dismiss" if feedback_type == "dismissed" else feedback_type


def _store_feedback(
    recommendation: Recommendation, feedback_type: str, comment: str
) -> tuple[RecommendationFeedback, bool]:
    """Insert or replace the feedback on the recommendation's movie. Does not commit."""
    user_id, movie_id = recommendation.user_id, recommendation.movie_id
    feedback = _feedback_on_movie(user_id, movie_id)
    created = feedback is None
    if feedback is None:
        feedback = RecommendationFeedback(
            user_id=user_id,
            movie_id=movie_id,
            recommendation_id=recommendation.id,
            feedback_type=feedback_type,
            comment=comment,
        )
        try:
            with db.session.begin_nested():
                db.session.add(feedback)
        except IntegrityError:
            # A concurrent request stored this movie's feedback first: update that one.
            feedback = _feedback_on_movie(user_id, movie_id)
            if feedback is None:
                raise
            created = False
    if not created:
        feedback.recommendation_id = recommendation.id
        feedback.feedback_type = feedback_type
        feedback.comment = comment
    return feedback, created


def delete_feedback(user_id: int, feedback_id: int) -> None:
    """Delete one of the user's feedback (undoing a dislike, not-interested or dismissal: the
    movie may be recommended again). Commits. NotFound for anyone else's."""
    feedback = db.session.scalar(
        select(RecommendationFeedback).where(
            RecommendationFeedback.id == feedback_id, RecommendationFeedback.user_id == user_id
        )
    )
    if feedback is None:
        raise NotFound(f"Feedback {feedback_id} does not exist.", code="feedback_not_found")
    db.session.delete(feedback)
    mark_recommendations_stale(user_id)
    db.session.commit()


def _feedback_on_movie(user_id: int, movie_id: int) -> RecommendationFeedback | None:
    return db.session.scalar(
        select(RecommendationFeedback).where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.movie_id == movie_id,
        )
    )


def _load_feedback(feedback_id: int) -> RecommendationFeedback:
    feedback = db.session.scalar(
        select(RecommendationFeedback)
        .where(RecommendationFeedback.id == feedback_id)
        .options(selectinload(RecommendationFeedback.movie).selectinload(Movie.genres))
    )
    assert feedback is not None  # just written in this transaction
    return feedback


def list_feedback(user_id: int, *, page: int = 1, page_size: int = 20) -> Page[Any]:
    """The user's feedback, newest first, with the movies."""
    statement = (
        select(RecommendationFeedback)
        .where(RecommendationFeedback.user_id == user_id)
        .order_by(RecommendationFeedback.created_at.desc(), RecommendationFeedback.id.desc())
        .options(selectinload(RecommendationFeedback.movie).selectinload(Movie.genres))
    )
    return paginate(statement, page, page_size)


def record_click(user_id: int, recommendation_id: int) -> StoredRecommendation:
    """Mark one of the user's recommendations clicked. Commits. NotFound for anyone else's."""
    recommendation = get_user_recommendation(user_id, recommendation_id)
    # Every click is an outcome of its impression; the first sets clicked_at.
    record_outcome(user_id, recommendation.movie_id, "click")
    if recommendation.clicked_at is None:
        recommendation.clicked_at = utcnow()
    db.session.commit()
    recommendation = get_user_recommendation(user_id, recommendation_id)
    return attach_feedback(user_id, [recommendation])[0]
