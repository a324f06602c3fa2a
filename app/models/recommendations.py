"""Recommendations, each the pair (user, movie) with its history, and the feedback users
give on them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin

if TYPE_CHECKING:
    from app.models.movies import Movie
    from app.models.users import User


def happened(timestamp: str) -> hybrid_property[bool]:
    """A flag that is true once the column `timestamp` is set, in Python and in queries."""

    def flag(row: Any) -> bool:
        return getattr(row, timestamp) is not None

    def flag_expression(model: Any) -> ColumnElement[bool]:
        return getattr(model, timestamp).is_not(None)

    return hybrid_property(flag, expr=flag_expression)


RECOMMENDATION_TYPES = ("collaborative", "content_based", "hybrid", "trending")
# "dismissed" is what DELETE /recommendations/{id}/ records: like not_interested, the movie
# never comes back; deleting the feedback undoes it.
FEEDBACK_TYPES = ("like", "dislike", "not_interested", "dismissed")
# Feedback that keeps a movie out of the user's recommendations for good.
EXCLUDING_FEEDBACK = ("dislike", "not_interested", "dismissed")
COMMENT_MAX_LENGTH = 1000


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Recommendation(TimestampMixin, Base):
    """One movie recommended to one user: the pair keeps its id across regenerations.

    A regeneration updates the rank, score, explanation and reasons of the movies that
    stay, inserts the new ones and soft-removes (`removed_at`) the ones that leave, so an
    id always names the same movie and the history (clicked, rated, favorited, feedback)
    is never lost. AUTOINCREMENT on SQLite (a sequence on PostgreSQL): ids are never reused.
    """

    __tablename__ = "recommendations"
    __table_args__ = (
        UniqueConstraint("user_id", "movie_id"),
        CheckConstraint(_in_list("recommendation_type", RECOMMENDATION_TYPES), name="type"),
        CheckConstraint("confidence_score >= 0 AND confidence_score <= 1", name="confidence"),
        Index("ix_recommendations_user_rank", "user_id", "rank"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)
    recommendation_type: Mapped[str] = mapped_column(String(20))
    confidence_score: Mapped[float] = mapped_column(Float)
    # Position in the batch, 1 first.
    rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    explanation: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Structured form of the explanation: [{"kind": "liked_movie", "movie": {...}}, ...].
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # Set when the movie left the user's current recommendations (the row and id stay).
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the user first clicked it, rated or favorited its movie; never cleared.
    clicked_at: Mapped[datetime | None] = mapped_column(default=None)
    rated_at: Mapped[datetime | None] = mapped_column(default=None)
    favorited_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(back_populates="recommendations")
    movie: Mapped[Movie] = relationship()

    is_clicked = happened("clicked_at")
    is_rated = happened("rated_at")


class RecommendationFeedback(TimestampMixin, Base):
    """Feedback belongs to the user and the movie, so it survives a regenerated batch.

    Recommendation rows are soft-removed, never deleted by a regeneration, so the link to
    the recommendation it was given on stays.
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
