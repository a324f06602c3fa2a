"""Everything stored about one user, gathered into one document (the right of access)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from app.extensions import db
from app.models import (
    Favorite,
    Movie,
    Rating,
    Recommendation,
    RecommendationFeedback,
    RecommendationImpression,
    UserProfile,
    WatchHistory,
    WatchlistEntry,
    utcnow,
)
from app.services.accounts import get_account


def export_account(user_id: int) -> dict[str, Any]:
    """The user, their profile and every row of their library, recommendations and
    feedback, each with the movie it is about, and the recommendations they were shown
    (impressions, with what they did next). One query per kind of row (two for the
    impressions: theirs, then their outcomes)."""
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
        "impressions": _impressions(user.id),
    }


def _impressions(user_id: int) -> list[dict[str, Any]]:
    """What the user was shown in the last RECOMMENDATION_IMPRESSION_RETENTION_DAYS (what is
    kept: older ones are pruned), oldest first, each with its movie and its outcomes."""
    days = int(current_app.config["RECOMMENDATION_IMPRESSION_RETENTION_DAYS"])
    since = utcnow() - timedelta(days=days)
    statement = (
        select(RecommendationImpression, Movie.id, Movie.tmdb_id, Movie.title)
        .join(Movie, Movie.id == RecommendationImpression.movie_id)
        .where(
            RecommendationImpression.user_id == user_id,
            RecommendationImpression.shown_at >= since,
        )
        .order_by(
            RecommendationImpression.shown_at,
            RecommendationImpression.rank,
            RecommendationImpression.id,
        )
        .options(selectinload(RecommendationImpression.outcomes))
    )
    return [
        {
            "id": impression.id,
            "movie": {"id": movie_id, "tmdb_id": tmdb_id, "title": title},
            "rank": impression.rank,
            "recommendation_type": impression.recommendation_type,
            "model_version": impression.model_version,
            "cold_start": impression.cold_start,
            "shown_at": impression.shown_at,
            "outcomes": sorted(
                impression.outcomes, key=lambda outcome: (outcome.occurred_at, outcome.id)
            ),
        }
        for impression, movie_id, tmdb_id, title in db.session.execute(statement)
    ]


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
