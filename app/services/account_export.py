"""Everything stored about one user, gathered into one document (the right of access)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import (
    Favorite,
    Rating,
    Recommendation,
    RecommendationFeedback,
    UserProfile,
    WatchHistory,
    WatchlistEntry,
    utcnow,
)
from app.services.accounts import get_account


def export_account(user_id: int) -> dict[str, Any]:
    """The user, their profile and every row of their library, recommendations and
    feedback, each with the movie it is about. One query per kind of row."""
    user = get_account(user_id)

    def rows(model: Any, order: Any) -> list[Any]:
        statement = (
            select(model)
            .where(model.user_id == user.id)
            .options(joinedload(model.movie))
            .order_by(order, model.id)
        )
        return list(db.session.scalars(statement))

    return {
        "exported_at": utcnow(),
        "user": user,
        "profile": db.session.scalar(select(UserProfile).where(UserProfile.user_id == user.id)),
        "favorites": rows(Favorite, Favorite.created_at),
        "ratings": rows(Rating, Rating.created_at),
        "watchlist": rows(WatchlistEntry, WatchlistEntry.created_at),
        "history": rows(WatchHistory, WatchHistory.watched_at),
        "recommendations": rows(Recommendation, Recommendation.rank),
        "feedback": rows(RecommendationFeedback, RecommendationFeedback.created_at),
    }
