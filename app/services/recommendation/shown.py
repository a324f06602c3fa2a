"""The stored list as `GET /api/v1/recommendations/` shows it, read as plain rows.

Every visit reads the user's batch. Loaded as ORM entities (identity map, an eager-loaded
movie and its genres per row) that read cost more CPU than the rest of the request; these
frozen rows carry exactly what the response and its impressions use, in two statements,
under the attribute names the response schemas read. They are read-only: a write loads
the entity (`Recommendation`) by id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Integer, Select, and_, bindparam, func, select

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


def genres_statement() -> Select[Any]:
    """Movies' genres by name (as `Movie.genres` orders them); bind `movie_ids`."""
    return (
        select(movie_genres.c.movie_id, Genre.id, Genre.tmdb_id, Genre.name)
        .join(Genre, Genre.id == movie_genres.c.genre_id)
        .where(movie_genres.c.movie_id.in_(bindparam("movie_ids", expanding=True)))
        .order_by(Genre.name, Genre.id)
    )


def summaries_statement() -> Select[Any]:
    """Movies in their summary form, without genres; bind `movie_ids`."""
    return select(Movie.id, *MOVIE_COLUMNS).where(
        Movie.id.in_(bindparam("movie_ids", expanding=True))
    )


# Built once: SQLAlchemy keeps a statement's cache key, so executing the same object again
# skips walking its tree (building and keying it anew took half the read's CPU).
BATCH = batch_statement()
GENRES = genres_statement()
SUMMARIES = summaries_statement()


def read_shown_batch(user_id: int, limit: int) -> ShownBatch:
    """The freshness of the user's batch, whether the user is a cold start (for the
    impressions) and the recommendations to show, in one query from the user's profile
    (no profile: nothing was ever generated), plus one for the shown movies' genres."""
    rows = db.session.execute(BATCH, {"user_id": user_id, "limit": limit}).all()
    if not rows:
        return ShownBatch(needs_regeneration=True, shown=[])
    stale, stored_count, cold_start = rows[0][0], rows[0][1], rows[0][2]
    listed = [row[3:] for row in rows if row[3] is not None]
    genres = genres_of([values[1] for values in listed])
    return ShownBatch(
        needs_regeneration=bool(stale) or stored_count < limit,
        shown=[shown_row(values, genres) for values in listed],
        cold_start=bool(cold_start),
    )


def shown_row(
    values: Sequence[Any], genres: dict[int, list[ShownGenre]]
) -> tuple[ShownRecommendation, ShownFeedback | None]:
    """One joined row (the columns of RECOMMENDATION_COLUMNS, MOVIE_COLUMNS and
    FEEDBACK_COLUMNS, in order) as the pair the page shows."""
    (id_, movie_id, rank, type_, score, explanation, reasons, created_at, clicked_at, rated_at,
     tmdb_id, title, poster_path, release_date, vote_average,
     feedback_id, feedback_type, comment, feedback_created, feedback_updated) = values  # fmt: skip
    movie = ShownMovie(
        movie_id, tmdb_id, title, poster_path, release_date, vote_average, genres[movie_id]
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
    """The movies of `movie_ids` that exist, by id, in their summary form; two queries."""
    if not movie_ids:
        return {}
    genres = genres_of(movie_ids)
    rows = db.session.execute(SUMMARIES, {"movie_ids": movie_ids})
    return {
        id_: ShownMovie(id_, tmdb_id, title, poster_path, release_date, vote_average, genres[id_])
        for id_, tmdb_id, title, poster_path, release_date, vote_average in rows
    }


def genres_of(movie_ids: list[int]) -> dict[int, list[ShownGenre]]:
    """Each movie's genres, in one query."""
    by_movie: dict[int, list[ShownGenre]] = defaultdict(list)
    if not movie_ids:
        return by_movie
    links = db.session.execute(GENRES, {"movie_ids": movie_ids})
    for movie_id, *genre in links:
        by_movie[movie_id].append(ShownGenre(*genre))
    return by_movie
