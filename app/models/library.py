"""A user's personal library: favourites, ratings, watchlist and watch history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from numbers import Integral, Real
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.models.base import Base, TimestampMixin, utcnow

if TYPE_CHECKING:
    from app.models.movies import Movie
    from app.models.users import User

REVIEW_MAX_LENGTH = 5000

# The specification's scale (TMDb's own): 1 to 10 in steps of 0.5, stored exactly.
RATING_MIN = 1
RATING_MAX = 10
RATING_STEP = Decimal("0.5")
ONE_DECIMAL_PLACE = Decimal("0.1")  # NUMERIC(3, 1)
RATING_RULE = f"Rating must be between {RATING_MIN} and {RATING_MAX} in steps of {RATING_STEP}."
# Portable (SQLite and PostgreSQL): a half step doubled is a whole number.
RATING_SCALE_CHECK = (
    f"rating >= {RATING_MIN} AND rating <= {RATING_MAX} "
    f"AND CAST(rating * 2 AS INTEGER) = rating * 2"
)


def rating_on_scale(value: object) -> Decimal | None:
    """`value` as the exact Decimal stored (7.5 -> Decimal("7.5")) when it is a number on the
    rating scale, else None: the rule of RATING_SCALE_CHECK, for schemas and imports."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, Real)):
        return None
    # Decimal(float) is exact: the float 7.1 is not 7.1 and is refused, 7.5 is exactly 7.5.
    if isinstance(value, Decimal):
        exact = value
    elif isinstance(value, Integral):
        exact = Decimal(int(value))
    else:
        exact = Decimal(float(value))
    if not exact.is_finite() or not RATING_MIN <= exact <= RATING_MAX:
        return None
    doubled = exact * 2
    if doubled != doubled.to_integral_value():
        return None
    return exact.quantize(ONE_DECIMAL_PLACE)


def one_entry_per_movie(table: str) -> tuple[UniqueConstraint, Index]:
    """The constraints of a library list: one entry per (user, movie), and the index that
    lists a user's entries newest first."""
    return (
        UniqueConstraint("user_id", "movie_id"),
        Index(f"ix_{table}_user_created", "user_id", "created_at"),
    )


class LibraryEntryMixin:
    """A row of one user's library about one movie, deleted with either of them."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)

    @declared_attr
    def movie(cls) -> Mapped[Movie]:
        return relationship("Movie")


class Favorite(LibraryEntryMixin, TimestampMixin, Base):
    __tablename__ = "favorites"
    __table_args__ = one_entry_per_movie("favorites")

    user: Mapped[User] = relationship(back_populates="favorites")


class Rating(LibraryEntryMixin, TimestampMixin, Base):
    """A rating from 1 to 10 in steps of 0.5 (an exact NUMERIC), with an optional review."""

    __tablename__ = "ratings"
    __table_args__ = (
        *one_entry_per_movie("ratings"),
        CheckConstraint(RATING_SCALE_CHECK, name="rating_scale"),
    )

    rating: Mapped[Decimal] = mapped_column(Numeric(3, 1))
    review: Mapped[str] = mapped_column(Text, default="", server_default="")

    user: Mapped[User] = relationship(back_populates="ratings")


class WatchlistEntry(LibraryEntryMixin, TimestampMixin, Base):
    __tablename__ = "watchlist_entries"
    __table_args__ = one_entry_per_movie("watchlist_entries")

    user: Mapped[User] = relationship(back_populates="watchlist")


class WatchHistory(LibraryEntryMixin, Base):
    """Every viewing, with its time: the same movie may appear many times."""

    __tablename__ = "watch_history"
    __table_args__ = (Index("ix_watch_history_user_watched", "user_id", "watched_at"),)

    watched_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="history")
