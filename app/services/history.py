"""A user's watch history: every viewing of a movie, with its time, newest first."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.models import Movie, WatchHistory, utcnow
from app.services.catalogue import get_movie
from app.services.pagination import Page, paginate
from app.services.recommendation.staleness import mark_recommendations_stale
from app.services.recommendation_impressions import record_outcome

# Clocks drift: a viewing a little in the future of ours is still accepted.
CLOCK_SKEW = timedelta(minutes=5)


def list_history(user_id: int, page: int, page_size: int) -> Page[WatchHistory]:
    """The user's viewings, newest first, each with its movie and the movie's genres."""
    statement = (
        select(WatchHistory)
        .where(WatchHistory.user_id == user_id)
        .options(selectinload(WatchHistory.movie).selectinload(Movie.genres))
        .order_by(WatchHistory.watched_at.desc(), WatchHistory.id.desc())
    )
    return paginate(statement, page, page_size)


def record_viewing(user_id: int, movie_id: int, watched_at: datetime | None = None) -> WatchHistory:
    """Record that the user watched a movie (now, or at `watched_at`); commits.

    NotFound for an unknown movie; ValidationFailed for a time in the future.
    """
    movie = get_movie(movie_id)
    when = watched_at or utcnow()
    if when > utcnow() + CLOCK_SKEW:
        raise ValidationFailed(
            "A viewing cannot be in the future.",
            errors={"watched_at": ["Must not be in the future."]},
        )
    entry = WatchHistory(user_id=user_id, movie_id=movie.id, watched_at=when)
    db.session.add(entry)
    record_outcome(user_id, movie.id, "watch", at=when)
    mark_recommendations_stale(user_id)
    db.session.commit()
    return db.session.scalars(
        select(WatchHistory)
        .where(WatchHistory.id == entry.id)
        .options(selectinload(WatchHistory.movie).selectinload(Movie.genres))
    ).one()


def delete_viewing(user_id: int, entry_id: int) -> None:
    """Remove one of the user's viewings; NotFound when it is not theirs (or absent)."""
    entry = db.session.scalar(
        select(WatchHistory).where(WatchHistory.id == entry_id, WatchHistory.user_id == user_id)
    )
    if entry is None:
        raise NotFound(f"History entry {entry_id} does not exist.", code="history_not_found")
    db.session.delete(entry)
    mark_recommendations_stale(user_id)
    db.session.commit()
