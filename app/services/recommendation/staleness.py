"""What happens when a user's tastes change: their stored recommendations go stale."""

from __future__ import annotations

from sqlalchemy import update

from app.extensions import db
from app.models import UserProfile


def mark_recommendations_stale(user_id: int) -> None:
    """The next GET of recommendations regenerates them. Part of the caller's transaction."""
    db.session.execute(
        update(UserProfile)
        .where(UserProfile.user_id == user_id, UserProfile.recommendations_stale.is_(False))
        .values(recommendations_stale=True)
    )
