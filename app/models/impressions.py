"""What was shown to whom (impressions) and what the user did next (attributed outcomes).

Impressions are telemetry: written once per served list, read by the online metrics and
pruned after RECOMMENDATION_IMPRESSION_RETENTION_DAYS. An outcome belongs to the latest
impression of its movie for its user within the attribution window, and goes with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow

# Outcomes of an impression, in the order the metrics report them.
OUTCOME_KINDS = (
    "click",
    "favorite",
    "rating",
    "watchlist",
    "watch",
    "like",
    "dislike",
    "not_interested",
    "dismiss",
)
# A rating at or above this counts as a conversion (the engine's "liked" threshold).
CONVERTING_RATING = 7
# Outcomes that are conversions (a rating only from CONVERTING_RATING) and dismissals.
CONVERSION_KINDS = ("favorite", "watchlist", "watch")
DISMISSAL_KINDS = ("dislike", "not_interested", "dismiss")

# A big table on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit (and only it
# is the rowid alias that numbers rows by itself).
_ID = BigInteger().with_variant(Integer(), "sqlite")


class RecommendationImpression(Base):
    __tablename__ = "recommendation_impressions"
    __table_args__ = (
        # Attribution: the latest impression of (user, movie).
        Index("ix_recommendation_impressions_user_movie_shown", "user_id", "movie_id", "shown_at"),
        # The metrics' date range and pruning.
        Index("ix_recommendation_impressions_shown_at", "shown_at"),
        CheckConstraint("rank >= 1", name="rank"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))
    rank: Mapped[int]
    recommendation_type: Mapped[str] = mapped_column(String(20))
    model_version: Mapped[str] = mapped_column(String(64))
    # The user had no positive signal yet (no favourite, rating of 7+, viewing or "like").
    cold_start: Mapped[bool] = mapped_column(Boolean)
    shown_at: Mapped[datetime] = mapped_column(default=utcnow)

    outcomes: Mapped[list[RecommendationOutcome]] = relationship(
        back_populates="impression", passive_deletes=True
    )


class RecommendationOutcome(Base):
    __tablename__ = "recommendation_outcomes"
    __table_args__ = (
        CheckConstraint(
            f"kind IN ({', '.join(repr(kind) for kind in OUTCOME_KINDS)})", name="kind"
        ),
        Index("ix_recommendation_outcomes_impression_kind", "impression_id", "kind"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    impression_id: Mapped[int] = mapped_column(
        _ID, ForeignKey("recommendation_impressions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    # The score given, for a "rating" outcome.
    rating: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    impression: Mapped[RecommendationImpression] = relationship(back_populates="outcomes")
