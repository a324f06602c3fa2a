"""What a user did with a recommended movie: first click, rating and favourite, kept as
timestamps on the recommendation and never cleared (a later regeneration, an unrated or
unfavourited movie leave them as they were: they record that it happened)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import InstrumentedAttribute

from app.extensions import db
from app.models import Recommendation, utcnow


def _mark_once(user_id: int, movie_id: int, column: InstrumentedAttribute[datetime | None]) -> None:
    db.session.execute(
        update(Recommendation)
        .where(
            Recommendation.user_id == user_id,
            Recommendation.movie_id == movie_id,
            column.is_(None),
        )
        .values({column: utcnow()})
        .execution_options(synchronize_session=False)
    )


def mark_rated(user_id: int, movie_id: int) -> None:
    """The user rated `movie_id`: its recommendation, if any, is rated from now on. Part of
    the caller's transaction."""
    _mark_once(user_id, movie_id, Recommendation.rated_at)


def mark_favorited(user_id: int, movie_id: int) -> None:
    """The user favourited `movie_id`: its recommendation, if any, records it. Part of the
    caller's transaction."""
    _mark_once(user_id, movie_id, Recommendation.favorited_at)
