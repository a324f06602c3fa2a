"""A user's personal library: favourites, ratings, watchlist and watch history."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin, utcnow

if TYPE_CHECKING:
    from app.models.movies import Movie
    from app.models.users import User

RATING_MIN = 1
RATING_MAX = 10
REVIEW_MAX_LENGTH = 5000


class Favorite(TimestampMixin, Base):
    __tablename__ = "favorites"
    __table_args__ = (
        UniqueConstraint("user_id", "movie_id"),
        Index("ix_favorites_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(back_populates="favorites")
    movie: Mapped[Movie] = relationship()


class Rating(TimestampMixin, Base):
    """A rating on the 1-10 integer scale, with an optional review."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("user_id", "movie_id"),
        CheckConstraint(f"rating >= {RATING_MIN} AND rating <= {RATING_MAX}", name="rating_range"),
        Index("ix_ratings_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    review: Mapped[str] = mapped_column(Text, default="", server_default="")

    user: Mapped[User] = relationship(back_populates="ratings")
    movie: Mapped[Movie] = relationship()


class WatchlistEntry(TimestampMixin, Base):
    __tablename__ = "watchlist_entries"
    __table_args__ = (
        UniqueConstraint("user_id", "movie_id"),
        Index("ix_watchlist_entries_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(back_populates="watchlist")
    movie: Mapped[Movie] = relationship()


class WatchHistory(Base):
    """Every viewing, with its time: the same movie may appear many times."""

    __tablename__ = "watch_history"
    __table_args__ = (Index("ix_watch_history_user_watched", "user_id", "watched_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)
    watched_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="history")
    movie: Mapped[Movie] = relationship()
