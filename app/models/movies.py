"""The catalogue: movies and genres, keyed by their TMDb ids."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, SoftDeleteMixin, TimestampMixin

movie_genres = Table(
    "movie_genres",
    Base.metadata,
    Column("movie_id", ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "genre_id",
        ForeignKey("genres.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Genre(Base):
    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(primary_key=True)
    tmdb_id: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(100))

    movies: Mapped[list[Movie]] = relationship(
        secondary=movie_genres, back_populates="genres", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Genre {self.tmdb_id} {self.name}>"


def trigram_index(name: str, column: str) -> Index:
    """A PostgreSQL GIN trigram index on `column` (no such index elsewhere)."""
    return Index(
        name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
    ).ddl_if(dialect="postgresql")


class Movie(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "movies"
    __table_args__ = (
        Index("ix_movies_popularity", "popularity"),
        Index("ix_movies_vote_average", "vote_average"),
        Index("ix_movies_release_date", "release_date"),
        Index("ix_movies_title", "title"),
        # Substring search (ILIKE '%term%') by trigrams on PostgreSQL, instead of reading
        # every row twice per search (count and page). Migration 0003 adds pg_trgm.
        trigram_index("ix_movies_title_trgm", "title"),
        trigram_index("ix_movies_original_title_trgm", "original_title"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tmdb_id: Mapped[int] = mapped_column(Integer, unique=True, index=True)
    # IMDb's id ("tt0133093"), when TMDb gave one: imports match IMDb and Trakt rows by it.
    imdb_id: Mapped[str | None] = mapped_column(String(12), default=None, index=True)
    title: Mapped[str] = mapped_column(String(500))
    original_title: Mapped[str] = mapped_column(String(500), default="", server_default="")
    overview: Mapped[str] = mapped_column(Text, default="", server_default="")
    poster_path: Mapped[str | None] = mapped_column(String(255), default=None)
    backdrop_path: Mapped[str | None] = mapped_column(String(255), default=None)
    release_date: Mapped[date | None] = mapped_column(Date, default=None)
    runtime: Mapped[int | None] = mapped_column(Integer, default=None)
    vote_average: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    vote_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    popularity: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    original_language: Mapped[str] = mapped_column(String(10), default="", server_default="")
    adult: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(50), default="", server_default="")
    budget: Mapped[int | None] = mapped_column(BigInteger, default=None)
    revenue: Mapped[int | None] = mapped_column(BigInteger, default=None)
    homepage: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # When the full TMDb details (runtime, budget, ...) were last fetched; None: list data only.
    details_fetched_at: Mapped[datetime | None] = mapped_column(default=None)
    # When TMDb answered 404 for this movie's id: syncs no longer ask for it (None: known).
    tmdb_unknown_at: Mapped[datetime | None] = mapped_column(default=None)

    genres: Mapped[list[Genre]] = relationship(
        secondary=movie_genres, back_populates="movies", order_by="Genre.name"
    )

    def __repr__(self) -> str:
        return f"<Movie {self.tmdb_id} {self.title}>"
