"""The stored list as `GET /api/v1/recommendations/` shows it, read as plain rows.

Every visit reads the user's batch. Loaded as ORM entities (identity map, an eager-loaded
movie and its genres per row) that read cost more CPU than the rest of the request; these
frozen rows carry exactly what the response and its impressions use, in one statement,
under the attribute names the response schemas read. They are read-only: a write loads
the entity (`Recommendation`) by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    TypeDecorator,
    and_,
    bindparam,
    func,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.extensions import db
from app.models import (
    Genre,
    Movie,
    Recommendation,
    RecommendationFeedback,
    UserProfile,
    movie_genres,
)
from app.services.recommendation_impressions import is_cold_start


@dataclass(frozen=True, slots=True)
class ShownGenre:
    id: int
    tmdb_id: int
    name: str


@dataclass(frozen=True, slots=True)
class ShownMovie:
    """A recommended movie in its summary form (`MovieSummarySchema`)."""

    id: int
    tmdb_id: int
    title: str
    poster_path: str | None
    release_date: date | None
    vote_average: float
    genres: list[ShownGenre]


@dataclass(frozen=True, slots=True)
class ShownFeedback:
    """The user's feedback on a shown movie (`FeedbackSummarySchema`)."""

    id: int
    feedback_type: str
    comment: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ShownRecommendation:
    """One row of the user's batch, with its movie (`RecommendationSchema`)."""

    id: int
    movie_id: int
    rank: int
    recommendation_type: str
    confidence_score: float
    explanation: str
    reasons: list[dict[str, Any]]
    created_at: datetime
    clicked_at: datetime | None
    rated_at: datetime | None
    movie: ShownMovie

    @property
    def is_clicked(self) -> bool:
        return self.clicked_at is not None

    @property
    def is_rated(self) -> bool:
        return self.rated_at is not None


@dataclass(frozen=True)
class ShownBatch:
    """What one read of the user's batch found: whether it must be regenerated first, and
    the recommendations to show (by rank), each with the user's feedback on its movie."""

    needs_regeneration: bool
    shown: list[tuple[ShownRecommendation, ShownFeedback | None]]
    # Whether the user had no positive signal yet, for the impressions (None: no profile).
    cold_start: bool | None = None


def shown_recommendations(
    user_id: int | BindParameter[int], limit: int | BindParameter[int]
) -> ColumnElement[bool]:
    """The condition on a recommendation row to be shown: the user's, among the best
    `limit` of the current batch whose movie is still in the catalogue."""
    best = (
        select(Recommendation.id)
        .join(Movie, Movie.id == Recommendation.movie_id)
        # A movie removed from the catalogue since the batch was made is not shown.
        .where(
            Recommendation.user_id == user_id,
            Recommendation.removed_at.is_(None),
            Movie.deleted_at.is_(None),
        )
        .order_by(Recommendation.rank, Recommendation.id)
        .limit(limit)
    )
    return and_(Recommendation.user_id == user_id, Recommendation.id.in_(best))


RECOMMENDATION_COLUMNS = (
    Recommendation.id,
    Recommendation.movie_id,
    Recommendation.rank,
    Recommendation.recommendation_type,
    Recommendation.confidence_score,
    Recommendation.explanation,
    Recommendation.reasons,
    Recommendation.created_at,
    Recommendation.clicked_at,
    Recommendation.rated_at,
)
MOVIE_COLUMNS = (
    Movie.tmdb_id,
    Movie.title,
    Movie.poster_path,
    Movie.release_date,
    Movie.vote_average,
)
FEEDBACK_COLUMNS = (
    RecommendationFeedback.id,
    RecommendationFeedback.feedback_type,
    RecommendationFeedback.comment,
    RecommendationFeedback.created_at,
    RecommendationFeedback.updated_at,
)


class SortedRows(TypeDecorator[list[list[Any]]]):
    """A JSON array of arrays, in ascending order of the arrays. PostgreSQL orders them
    in the aggregate (with the column's collation, as an ORDER BY would); SQLite cannot
    order an aggregate before 3.44, so they are sorted here (its BINARY collation is
    Python's order). NULL (no row) reads as []."""

    impl = JSON
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> list[list[Any]]:
        rows = value or []
        return rows if dialect.name == "postgresql" else sorted(rows)


class json_rows(FunctionElement[list[list[Any]]]):
    """Its arguments, per row, aggregated into one JSON array of arrays ordered by the
    arguments (the first, then the next...): a movie's genres ride on the movie's own
    row instead of a second query."""

    type = SortedRows()
    inherit_cache = True


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element: json_rows, compiler: Any, **kw: Any) -> str:
    arguments = compiler.process(element.clauses, **kw)
    return f"json_agg(json_build_array({arguments}) ORDER BY {arguments})"


@compiles(json_rows)
def _json_rows_sqlite(element: json_rows, compiler: Any, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


def genres_column() -> ScalarSelect[Any]:
    """The outer query's movie's genres as [[name, id, tmdb_id], ...] by name (as
    `Movie.genres` orders them)."""
    return (
        select(json_rows(Genre.name, Genre.id, Genre.tmdb_id))
        .join(movie_genres, movie_genres.c.genre_id == Genre.id)
        .where(movie_genres.c.movie_id == Movie.id)
        .scalar_subquery()
    )


def shown_genres(rows: list[list[Any]]) -> list[ShownGenre]:
    """The genres of `genres_column`."""
    return [ShownGenre(id_, tmdb_id, name) for name, id_, tmdb_id in rows]


def batch_statement() -> Select[Any]:
    """The batch read with its user and size as bind parameters (`user_id`, `limit`)."""
    user_id: BindParameter[int] = bindparam("user_id", type_=Integer)
    limit: BindParameter[int] = bindparam("limit", type_=Integer)
    stored = (
        select(func.count(Recommendation.id))
        .where(Recommendation.user_id == user_id, Recommendation.removed_at.is_(None))
        .scalar_subquery()
    )
    return (
        select(
            UserProfile.recommendations_stale,
            stored,
            is_cold_start(user_id),
            *RECOMMENDATION_COLUMNS,
            *MOVIE_COLUMNS,
            genres_column(),
            *FEEDBACK_COLUMNS,
        )
        .select_from(UserProfile)
        .outerjoin(Recommendation, shown_recommendations(user_id, limit))
        .outerjoin(Movie, Movie.id == Recommendation.movie_id)
        .outerjoin(
            RecommendationFeedback,
            and_(
                RecommendationFeedback.user_id == Recommendation.user_id,
                RecommendationFeedback.movie_id == Recommendation.movie_id,
            ),
        )
        .where(UserProfile.user_id == user_id)
        .order_by(Recommendation.rank, Recommendation.id)
    )


def summaries_statement() -> Select[Any]:
    """Movies in their summary form, with their genres; bind `movie_ids`."""
    return select(Movie.id, *MOVIE_COLUMNS, genres_column()).where(
        Movie.id.in_(bindparam("movie_ids", expanding=True))
    )


# Built once: SQLAlchemy keeps a statement's cache key, so executing the same object again
# skips walking its tree (building and keying it anew took half the read's CPU).
BATCH = batch_statement()
SUMMARIES = summaries_statement()


def read_shown_batch(user_id: int, limit: int) -> ShownBatch:
    """The freshness of the user's batch, whether the user is a cold start (for the
    impressions) and the recommendations to show with their movies' genres, in one query
    from the user's profile (no profile: nothing was ever generated)."""
    rows = db.session.execute(BATCH, {"user_id": user_id, "limit": limit}).all()
    if not rows:
        return ShownBatch(needs_regeneration=True, shown=[])
    stale, stored_count, cold_start = rows[0][0], rows[0][1], rows[0][2]
    return ShownBatch(
        needs_regeneration=bool(stale) or stored_count < limit,
        shown=[shown_row(row[3:]) for row in rows if row[3] is not None],
        cold_start=bool(cold_start),
    )


def shown_row(values: Sequence[Any]) -> tuple[ShownRecommendation, ShownFeedback | None]:
    """One joined row (the columns of RECOMMENDATION_COLUMNS, MOVIE_COLUMNS, the genres and
    FEEDBACK_COLUMNS, in order) as the pair the page shows."""
    (id_, movie_id, rank, type_, score, explanation, reasons, created_at, clicked_at, rated_at,
     tmdb_id, title, poster_path, release_date, vote_average, genres,
     feedback_id, feedback_type, comment, feedback_created, feedback_updated) = values  # fmt: skip
    movie = ShownMovie(
        movie_id, tmdb_id, title, poster_path, release_date, vote_average, shown_genres(genres)
    )
    recommendation = ShownRecommendation(
        id_, movie_id, rank, type_, score, explanation, reasons, created_at, clicked_at,
        rated_at, movie,
    )  # fmt: skip
    if feedback_id is None:
        return recommendation, None
    feedback = ShownFeedback(
        feedback_id, feedback_type, comment, feedback_created, feedback_updated
    )
    return recommendation, feedback


def movie_summaries(movie_ids: list[int]) -> dict[int, ShownMovie]:
    """The movies of `movie_ids` that exist, by id, in their summary form; one query."""
    if not movie_ids:
        return {}
    rows = db.session.execute(SUMMARIES, {"movie_ids": movie_ids})
    return {
        id_: ShownMovie(
            id_, tmdb_id, title, poster_path, release_date, vote_average, shown_genres(genres)
        )
        for id_, tmdb_id, title, poster_path, release_date, vote_average, genres in rows
    }
