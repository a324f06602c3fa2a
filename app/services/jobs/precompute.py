"""Precomputing recommendations: regenerate stale batches before their owners come back, so
their next GET /api/v1/recommendations/ reads stored rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

from sqlalchemy import or_, select

from app.errors import NotFound
from app.extensions import db
from app.models import User, UserProfile, utcnow
from app.services.recommendation.batches import store_recommendations


def stale_active_user_ids(active_days: int, limit: int) -> list[int]:
    """Users signed in within `active_days` whose batch is stale or was never made, the most
    recently seen first (at most `limit`)."""
    since = utcnow() - timedelta(days=active_days)
    rows = db.session.execute(
        select(User.id)
        .outerjoin(UserProfile, UserProfile.user_id == User.id)
        .where(
            User.deleted_at.is_(None),
            User.is_active.is_(True),
            User.last_login >= since,
            or_(
                UserProfile.id.is_(None),
                UserProfile.recommendations_stale.is_(True),
                UserProfile.recommendations_generated_at.is_(None),
            ),
        )
        .order_by(User.last_login.desc(), User.id)
        .limit(limit)
    )
    return [row.id for row in rows]


def active_user_ids() -> list[int]:
    """Every active user, by id: whose batches `flask recommend --all` computes."""
    return list(
        db.session.scalars(
            select(User.id)
            .where(User.deleted_at.is_(None), User.is_active.is_(True))
            .order_by(User.id)
        )
    )


def regenerate_batches(user_ids: Sequence[int], limit: int | None = None) -> int:
    """Compute and store a fresh batch of `limit` (default: the batch size) for each user,
    one transaction each; returns how many were stored. A user deleted meanwhile is skipped."""
    stored = 0
    for user_id in user_ids:
        try:
            store_recommendations(user_id, limit)
        except NotFound:
            db.session.rollback()
            continue
        stored += 1
    return stored


def chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    """`ids` in consecutive lists of at most `size`."""
    step = max(1, size)
    for start in range(0, len(ids), step):
        yield list(ids[start : start + step])
