"""Stored recommendation batches and the feedback users give on them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin

if TYPE_CHECKING:
    from app.models.movies import Movie
    from app.models.users import User

RECOMMENDATION_TYPES = ("collaborative", "content_based", "hybrid", "trending")
FEEDBACK_TYPES = ("like", "dislike", "not_interested")
COMMENT_MAX_LENGTH = 1000


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Recommendation(TimestampMixin, Base):
    __tablename__ = "recommendations"
    __table_args__ = (
        UniqueConstraint("user_id", "movie_id"),
        CheckConstraint(_in_list("recommendation_type", RECOMMENDATION_TYPES), name="type"),
        CheckConstraint("confidence_score >= 0 AND confidence_score <= 1", name="confidence"),
        Index("ix_recommendations_user_rank", "user_id", "rank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)
    recommendation_type: Mapped[str] = mapped_column(String(20))
    confidence_score: Mapped[float] = mapped_column(Float)
    # Position in the batch, 1 first.
    rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    explanation: Mapped[str] = mapped_column(Text, default="", server_default="")
    is_clicked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_rated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    user: Mapped[User] = relationship(back_populates="recommendations")
    movie: Mapped[Movie] = relationship()


class RecommendationFeedback(TimestampMixin, Base):
    """Feedback belongs to the user and the movie, so it survives a regenerated batch.

    The link to the recommendation it was given on is cleared (not cascaded) when that
    batch is replaced.
    """

    __tablename__ = "recommendation_feedback"
    __table_args__ = (
        UniqueConstraint("user_id", "recommendation_id"),
        UniqueConstraint("user_id", "movie_id"),
        CheckConstraint(_in_list("feedback_type", FEEDBACK_TYPES), name="type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)
    recommendation_id: Mapped[int | None] = mapped_column(
        ForeignKey("recommendations.id", ondelete="SET NULL"), index=True
    )
    feedback_type: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")

    user: Mapped[User] = relationship(back_populates="feedback")
    movie: Mapped[Movie] = relationship()
    recommendation: Mapped[Recommendation | None] = relationship()
