"""Everything stored about one user, gathered into one document (the right of access)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from app.extensions import db
from app.models import (
    Favorite,
    Movie,
    Rating,
    Recommendation,
    RecommendationFeedback,
    UserProfile,
    WatchHistory,
    WatchlistEntry,
    utcnow,
)
from app.services.accounts import get_account


def export_account(user_id: int) -> dict[str, Any]:
    """The user, their profile and every row of their library, recommendations and
    feedback, each with the movie it is about. One query per kind of row."""
    user = get_account(user_id)

    def rows(model: Any, order: Any) -> list[Any]:
        statement = (
            select(model)
            .where(model.user_id == user.id)
            .options(joinedload(model.movie))
            .order_by(order, model.id)
        )
        return list(db.session.scalars(statement))

    return {
        "exported_at": utcnow(),
        "user": user,
        "profile": db.session.scalar(select(UserProfile).where(UserProfile.user_id == user.id)),
        "favorites": rows(Favorite, Favorite.created_at),
        "ratings": rows(Rating, Rating.created_at),
        "watchlist": rows(WatchlistEntry, WatchlistEntry.created_at),
        "history": rows(WatchHistory, WatchHistory.watched_at),
        "recommendations": rows(Recommendation, Recommendation.rank),
        "feedback": rows(RecommendationFeedback, RecommendationFeedback.created_at),
    }


# --- the same library in other services' formats ----------------------------------------------

LETTERBOXD_COLUMNS = ("Title", "Year", "tmdbID", "imdbID", "Rating10", "WatchedDate", "Review")
IMDB_COLUMNS = (
    "Const",
    "Your Rating",
    "Date Rated",
    "Title",
    "URL",
    "Title Type",
    "IMDb Rating",
    "Runtime (mins)",
    "Year",
    "Genres",
    "Num Votes",
    "Release Date",
    "Directors",
)


def _csv(columns: tuple[str, ...], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def _number(value: Any) -> str:
    """A rating as text: 8, or 7.5 when ratings have half steps."""
    return f"{float(value):g}"


def _library_rows(model: Any, user_id: int, order: Any) -> list[Any]:
    get_account(user_id)
    statement = (
        select(model)
        .join(model.movie)
        .where(model.user_id == user_id, Movie.deleted_at.is_(None))
        .options(contains_eager(model.movie).selectinload(Movie.genres))
        .order_by(order, model.id)
    )
    return list(db.session.scalars(statement).unique())


def export_letterboxd_csv(user_id: int) -> str:
    """Letterboxd's import format: a row per viewing (its date), the rating and review on
    each movie's last viewing, and a row without a date for a movie rated but not logged."""
    ratings = {entry.movie_id: entry for entry in _library_rows(Rating, user_id, Rating.created_at)}
    viewings = _library_rows(WatchHistory, user_id, WatchHistory.watched_at)
    last_viewing = {viewing.movie_id: viewing.id for viewing in viewings}

    def row(movie: Movie, watched: str, rating: Rating | None) -> list[Any]:
        return [
            movie.title,
            movie.release_date.year if movie.release_date else "",
            movie.tmdb_id,
            movie.imdb_id or "",
            _number(rating.rating) if rating else "",
            watched,
            rating.review if rating else "",
        ]

    rows = [
        row(
            viewing.movie,
            viewing.watched_at.date().isoformat(),
            ratings.get(viewing.movie_id) if last_viewing[viewing.movie_id] == viewing.id else None,
        )
        for viewing in viewings
    ]
    rows += [
        row(entry.movie, "", entry)
        for entry in ratings.values()
        if entry.movie_id not in last_viewing
    ]
    return _csv(LETTERBOXD_COLUMNS, rows)


def export_imdb_csv(user_id: int) -> str:
    """IMDb's ratings export: one row per rating, IMDb's id when the catalogue has it."""
    rows = []
    for entry in _library_rows(Rating, user_id, Rating.created_at):
        movie = entry.movie
        rows.append(
            [
                movie.imdb_id or "",
                _number(entry.rating),
                entry.created_at.date().isoformat(),
                movie.title,
                f"https://www.imdb.com/title/{movie.imdb_id}/" if movie.imdb_id else "",
                "Movie",
                _number(movie.vote_average),
                movie.runtime or "",
                movie.release_date.year if movie.release_date else "",
                ", ".join(genre.name for genre in movie.genres),
                movie.vote_count,
                movie.release_date.isoformat() if movie.release_date else "",
                "",
            ]
        )
    return _csv(IMDB_COLUMNS, rows)
