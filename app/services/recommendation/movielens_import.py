"""`flask import-movielens`: a MovieLens folder written into the database.

The import creates one account per MovieLens user (``ml_<userId>``, no usable password), the
movies it does not know yet (matched by TMDb id through links.csv, so that
``flask sync-tmdb --details`` can complete them) and the ratings, scaled to our 1-10 scale.
Everything is inserted in batches with ON CONFLICT DO NOTHING: a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from app.errors import Conflict
from app.extensions import db
from app.models import Genre, Movie, Rating, User, UserProfile, movie_genres
from app.services.accounts import create_user
from app.services.catalogue import dialect_insert
from app.services.recommendation.movielens import (
    TMDB_GENRE_NAMES,
    MovieLensData,
    MovieLensMovie,
    read_movielens,
)

USERNAME_PREFIX = "ml_"
EMAIL_DOMAIN = "movielens.invalid"
BATCH_SIZE = 5000


@dataclass(frozen=True)
class ImportSummary:
    users_created: int
    users_existing: int
    movies_created: int
    movies_existing: int
    movies_without_tmdb_id: int
    genres_created: int
    ratings_created: int
    ratings_existing: int
    ratings_skipped: int  # rows whose movie has no tmdbId (or is not in movies.csv)


def _insert_or_ignore(table: Any, *conflict_columns: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL and SQLite alike."""
    statement: Any = dialect_insert(table)
    return statement.on_conflict_do_nothing(index_elements=list(conflict_columns) or None)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _import_genres(tmdb_ids: set[int]) -> int:
    before = db.session.scalar(select(func.count()).select_from(Genre)) or 0
    if tmdb_ids:
        db.session.execute(
            _insert_or_ignore(Genre.__table__, "tmdb_id"),
            [
                {"tmdb_id": g, "name": TMDB_GENRE_NAMES.get(g, f"Genre {g}")}
                for g in sorted(tmdb_ids)
            ],
        )
    after = db.session.scalar(select(func.count()).select_from(Genre)) or 0
    return after - before


def _movie_ids_by_tmdb_id(tmdb_ids: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in _chunks(tmdb_ids, BATCH_SIZE):
        found.update(
            db.session.execute(select(Movie.tmdb_id, Movie.id).where(Movie.tmdb_id.in_(chunk)))
            .tuples()
            .all()
        )
    return found


def _import_movies(data: MovieLensData) -> tuple[dict[int, int], int, int]:
    """Create the movies not yet in the catalogue; (tmdb_id -> movie id, created, existing)."""
    first_by_tmdb: dict[int, MovieLensMovie] = {}
    for movie_id, movie in sorted(data.movies.items()):
        tmdb_id = data.links.get(movie_id)
        if tmdb_id is not None:
            first_by_tmdb.setdefault(tmdb_id, movie)
    existing = _movie_ids_by_tmdb_id(sorted(first_by_tmdb))
    new = [tmdb_id for tmdb_id in sorted(first_by_tmdb) if tmdb_id not in existing]
    insert_movie = _insert_or_ignore(Movie.__table__, "tmdb_id")
    for chunk in _chunks(new, BATCH_SIZE):
        db.session.execute(
            insert_movie,
            [
                {
                    "tmdb_id": tmdb_id,
                    "title": first_by_tmdb[tmdb_id].title[:500],
                    "release_date": first_by_tmdb[tmdb_id].release_date,
                }
                for tmdb_id in chunk
            ],
        )
    ids = _movie_ids_by_tmdb_id(sorted(first_by_tmdb))
    genre_ids = dict(db.session.execute(select(Genre.tmdb_id, Genre.id)).tuples().all())
    links = [
        {"movie_id": ids[tmdb_id], "genre_id": genre_ids[genre]}
        for tmdb_id in new
        for genre in first_by_tmdb[tmdb_id].genre_tmdb_ids
        if tmdb_id in ids and genre in genre_ids
    ]
    insert_link = _insert_or_ignore(movie_genres)
    for chunk in _chunks(links, BATCH_SIZE):
        db.session.execute(insert_link, chunk)
    return ids, len(new), len(existing)


def _import_users(movielens_user_ids: list[int]) -> tuple[dict[int, int], int]:
    """Accounts ml_<userId> without a usable password; (MovieLens id -> user id, created)."""
    usernames = {f"{USERNAME_PREFIX}{uid}": uid for uid in movielens_user_ids}
    known: dict[int, int] = {}
    for chunk in _chunks(sorted(usernames), BATCH_SIZE):
        for username, user_id, email in db.session.execute(
            select(User.username, User.id, User.email).where(User.username.in_(chunk))
        ):
            if email != f"{username}@{EMAIL_DOMAIN}":
                raise Conflict(
                    f"The username {username} belongs to an account the import did not create.",
                    code="username_taken",
                )
            known[usernames[username]] = user_id
    created = 0
    for uid in movielens_user_ids:
        if uid not in known:
            username = f"{USERNAME_PREFIX}{uid}"
            user = create_user(email=f"{username}@{EMAIL_DOMAIN}", username=username, password=None)
            known[uid] = user.id
            created += 1
    return known, created


def _count_ratings(user_ids: list[int]) -> int:
    total = 0
    for chunk in _chunks(user_ids, BATCH_SIZE):
        total += (
            db.session.scalar(
                select(func.count()).select_from(Rating).where(Rating.user_id.in_(chunk))
            )
            or 0
        )
    return total


def import_movielens(
    directory: Path,
    *,
    progress: Callable[[int], None] | None = None,
    on_ratings_start: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a MovieLens folder (idempotent). Commits once per phase and per ratings batch.

    `on_ratings_start(total)` is called before the ratings are written and `progress(n)` after
    each batch of n rows, for a progress bar.
    """
    data = read_movielens(directory)
    ratings = data.ratings
    # Users first: a username taken by someone else stops the import before anything is written.
    users, users_created = _import_users(sorted({int(u) for u in ratings.user_ids}))
    db.session.commit()
    genres_created = _import_genres({g for m in data.movies.values() for g in m.genre_tmdb_ids})
    movie_ids, movies_created, movies_existing = _import_movies(data)
    db.session.commit()

    # Latest rating wins when two MovieLens movies share one TMDb film.
    latest: dict[tuple[int, int], tuple[int, int]] = {}
    skipped = 0
    for ml_user, ml_movie, value, timestamp in zip(
        ratings.user_ids.tolist(),
        ratings.movie_ids.tolist(),
        ratings.ratings.tolist(),
        ratings.timestamps.tolist(),
        strict=True,
    ):
        tmdb_id = data.links.get(ml_movie) if ml_movie in data.movies else None
        movie_id = movie_ids.get(tmdb_id) if tmdb_id is not None else None
        if movie_id is None:
            skipped += 1
            continue
        key = (users[ml_user], movie_id)
        if key not in latest or timestamp >= latest[key][1]:
            latest[key] = (value, timestamp)
    rows = [
        {
            "user_id": user_id,
            "movie_id": movie_id,
            "rating": value,
            "created_at": datetime.fromtimestamp(timestamp, UTC),
            "updated_at": datetime.fromtimestamp(timestamp, UTC),
        }
        for (user_id, movie_id), (value, timestamp) in sorted(latest.items())
    ]
    local_users = sorted(set(users.values()))
    before = _count_ratings(local_users)
    if on_ratings_start is not None:
        on_ratings_start(len(rows))
    insert_rating = _insert_or_ignore(Rating.__table__, "user_id", "movie_id")
    for chunk in _chunks(rows, BATCH_SIZE):
        db.session.execute(insert_rating, chunk)
        db.session.commit()
        if progress is not None:
            progress(len(chunk))
    created = _count_ratings(local_users) - before
    if created:
        for chunk in _chunks(local_users, BATCH_SIZE):
            db.session.execute(
                update(UserProfile)
                .where(UserProfile.user_id.in_(chunk), UserProfile.recommendations_stale.is_(False))
                .values(recommendations_stale=True)
            )
        db.session.commit()
    return ImportSummary(
        users_created=users_created,
        users_existing=len(users) - users_created,
        movies_created=movies_created,
        movies_existing=movies_existing,
        movies_without_tmdb_id=sum(1 for movie_id in data.movies if movie_id not in data.links),
        genres_created=genres_created,
        ratings_created=created,
        ratings_existing=len(rows) - created,
        ratings_skipped=skipped,
    )
