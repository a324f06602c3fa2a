"""Small factories for test data. Each opens its own app context and commits, so the row
is visible to the requests a test makes next; it returns the detached object, whose
column attributes stay readable."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask

from app.extensions import db
from app.models import Favorite, Genre, Movie, Rating, Recommendation, User, utcnow
from app.services.accounts import create_user
from app.services.tokens import issue_tokens

DEFAULT_PASSWORD = "correct-horse-battery-staple"
T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)  # a fixed moment for rows with chosen dates

_sequence = itertools.count(1)


def _detach(obj: Any) -> Any:
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


def make_user(app: Flask, *, password: str | None = DEFAULT_PASSWORD, **fields: Any) -> User:
    n = next(_sequence)
    fields.setdefault("email", f"user{n}@example.com")
    fields.setdefault("username", f"user{n}")
    with app.app_context():
        user = create_user(password=password, **fields)
        db.session.commit()
        return _detach(user)


def make_genre(app: Flask, *, tmdb_id: int | None = None, name: str | None = None) -> Genre:
    n = next(_sequence)
    with app.app_context():
        genre = Genre(tmdb_id=tmdb_id or 100_000 + n, name=name or f"Genre {n}")
        db.session.add(genre)
        db.session.commit()
        return _detach(genre)


def make_movie(app: Flask, *, genres: list[Genre] | None = None, **fields: Any) -> Movie:
    n = next(_sequence)
    fields.setdefault("tmdb_id", 500_000 + n)
    fields.setdefault("title", f"Film {n}")
    fields.setdefault("release_date", date(2015, 1, 1))
    fields.setdefault("vote_average", 7.0)
    fields.setdefault("vote_count", 500)
    fields.setdefault("popularity", 20.0)
    fields.setdefault("original_language", "en")
    with app.app_context():
        movie = Movie(**fields)
        if genres:
            movie.genres = [db.session.get(Genre, genre.id) for genre in genres]  # type: ignore[misc]
        db.session.add(movie)
        db.session.commit()
        return _detach(movie)


def make_recommendation(app: Flask, user: User, movie: Movie, **fields: Any) -> Recommendation:
    fields.setdefault("recommendation_type", "hybrid")
    fields.setdefault("confidence_score", 0.8)
    fields.setdefault("rank", 1)
    with app.app_context():
        recommendation = Recommendation(user_id=user.id, movie_id=movie.id, **fields)
        db.session.add(recommendation)
        db.session.commit()
        return _detach(recommendation)


def make_entry(app: Flask, model: type[Any], user: User, movie: Any, **fields: Any) -> Any:
    """A committed row of `user` about `movie` (Favorite, Rating, WatchHistory...), detached."""
    with app.app_context():
        entry = model(user_id=user.id, movie_id=movie.id, **fields)
        db.session.add(entry)
        db.session.commit()
        db.session.refresh(entry)
        db.session.expunge(entry)
        return entry


def add_favorites(app: Flask, user: User, *movies: Movie, days_ago: int = 0) -> None:
    """`user` favorites each of `movies`, now or `days_ago` days back, in one commit."""
    extra = {"created_at": utcnow() - timedelta(days=days_ago)} if days_ago else {}
    with app.app_context():
        db.session.add_all(
            Favorite(user_id=user.id, movie_id=movie.id, **extra) for movie in movies
        )
        db.session.commit()


def add_rating(app: Flask, user: User, movie: Movie, value: int | Decimal) -> None:
    with app.app_context():
        db.session.add(Rating(user_id=user.id, movie_id=movie.id, rating=value))
        db.session.commit()


def tokens_for(app: Flask, user: User) -> dict[str, str]:
    with app.app_context(), app.test_request_context():
        fresh = db.session.get(User, user.id)
        assert fresh is not None
        return issue_tokens(fresh)


def auth_headers(app: Flask, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens_for(app, user)['access']}"}


def two_clusters_in_the_database(app: Flask) -> tuple[list[User], list[Movie]]:
    """12 users, each rating the 12 films of their cluster (8 or 9) over 12 days; 24 films."""
    movies = [make_movie(app) for _ in range(24)]
    users = [make_user(app) for _ in range(12)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        for u, user in enumerate(users):
            first = 0 if u < 6 else 12
            for step in range(12):
                moment = start + timedelta(days=step, hours=u)
                db.session.add(
                    Rating(
                        user_id=user.id,
                        movie_id=movies[first + (u + step) % 12].id,
                        rating=8 + step % 2,
                        created_at=moment,
                        updated_at=moment,
                    )
                )
        db.session.commit()
    return users, movies
