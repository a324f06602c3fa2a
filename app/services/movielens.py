"""MovieLens "latest" folders: reading ratings.csv, movies.csv and links.csv, and importing them.

The import creates one account per MovieLens user (``ml_<userId>``, no usable password), the
movies it does not know yet (matched by TMDb id through links.csv, so that
``flask sync-tmdb --details`` can complete them) and the ratings, scaled to our 1-10 scale.
Everything is inserted in batches with ON CONFLICT DO NOTHING: a second run changes nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, update

from app.errors import Conflict
from app.extensions import db
from app.models import Genre, Movie, Rating, User, UserProfile, movie_genres
from app.models.library import RATING_MAX, RATING_MIN
from app.services.accounts import create_user
from app.services.catalog import dialect_insert
from app.services.demo_data import DEMO_GENRES

# MovieLens genre -> TMDb genre id. IMAX and "(no genres listed)" map to nothing.
MOVIELENS_GENRES: dict[str, int] = {
    "Action": 28,
    "Adventure": 12,
    "Animation": 16,
    "Children": 10751,
    "Comedy": 35,
    "Crime": 80,
    "Documentary": 99,
    "Drama": 18,
    "Fantasy": 14,
    "Film-Noir": 80,
    "Horror": 27,
    "Musical": 10402,
    "Mystery": 9648,
    "Romance": 10749,
    "Sci-Fi": 878,
    "Thriller": 53,
    "War": 10752,
    "Western": 37,
}
UNMAPPED_GENRES = frozenset({"IMAX", "(no genres listed)"})
# TMDb's names for its genre ids (what /genre/movie/list answers).
TMDB_GENRE_NAMES: dict[int, str] = {genre["id"]: genre["name"] for genre in DEMO_GENRES}

USERNAME_PREFIX = "ml_"
EMAIL_DOMAIN = "movielens.invalid"
BATCH_SIZE = 5000

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")
# "Matrix, The" -> "The Matrix": MovieLens moves leading articles to the end.
# Also before an alternative title in brackets: "Good, the Bad and the Ugly, The (Buono, ...)".
_TRAILING_ARTICLE = re.compile(r"^(?P<title>.+?), (?P<article>The|A|An)(?P<alternative> \(.*\))?$")


class MovieLensFormatError(ValueError):
    """A MovieLens file is missing, or a row cannot be read; the message names file and line."""


@dataclass(frozen=True)
class MovieLensMovie:
    movie_id: int
    title: str
    year: int | None
    genre_tmdb_ids: tuple[int, ...]

    @property
    def release_date(self) -> date | None:
        return date(self.year, 1, 1) if self.year else None


@dataclass(frozen=True, eq=False)
class MovieLensRatings:
    """Parallel arrays, one entry per ratings.csv row; ratings already on the 1-10 scale."""

    user_ids: np.ndarray
    movie_ids: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return int(self.user_ids.size)


@dataclass(frozen=True)
class MovieLensData:
    movies: dict[int, MovieLensMovie]
    links: dict[int, int]  # movieId -> tmdbId, for the movies that have one
    ratings: MovieLensRatings


def parse_title(raw: str) -> tuple[str, int | None]:
    """("The Matrix", 1999) from "Matrix, The (1999)"; the year is None when absent."""
    text = raw.strip()
    year: int | None = None
    match = _TITLE_YEAR.match(text)
    if match:
        text, year = match.group("title").strip(), int(match.group("year"))
    article = _TRAILING_ARTICLE.match(text)
    if article:
        alternative = article.group("alternative") or ""
        text = f"{article.group('article')} {article.group('title')}{alternative}"
    return text or raw.strip(), year


def map_genres(raw: str) -> tuple[int, ...]:
    """TMDb genre ids for a MovieLens "A|B|C" genre list (unknown names are an error)."""
    ids: list[int] = []
    for name in raw.split("|"):
        name = name.strip()
        if not name or name in UNMAPPED_GENRES:
            continue
        if name not in MOVIELENS_GENRES:
            raise ValueError(f"unknown MovieLens genre {name!r}")
        if MOVIELENS_GENRES[name] not in ids:
            ids.append(MOVIELENS_GENRES[name])
    return tuple(ids)


def rating_to_scale(stars: float) -> int:
    """0.5-5 stars to our 1-10 integers: twice the stars (0.5 -> 1, 5.0 -> 10)."""
    if not 0.5 <= stars <= 5.0:
        raise ValueError(f"rating {stars} is outside 0.5-5.0")
    return min(max(round(stars * 2), RATING_MIN), RATING_MAX)


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise MovieLensFormatError(f"{path.name} is missing from {path.parent}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise MovieLensFormatError(f"{path.name} lacks the column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row


def _fail(path: Path, line: int, error: Exception) -> MovieLensFormatError:
    return MovieLensFormatError(f"{path.name}, line {line}: {error}")


def read_movies(directory: Path) -> dict[int, MovieLensMovie]:
    path = directory / "movies.csv"
    movies: dict[int, MovieLensMovie] = {}
    for line, row in _rows(path, ("movieId", "title", "genres")):
        try:
            movie_id = int(row["movieId"])
            title, year = parse_title(row["title"] or "")
            if not title:
                raise ValueError("empty title")
            movies[movie_id] = MovieLensMovie(movie_id, title, year, map_genres(row["genres"]))
        except (TypeError, ValueError) as error:
            raise _fail(path, line, error) from None
    return movies


def read_links(directory: Path) -> dict[int, int]:
    """movieId -> tmdbId for the rows that carry a tmdbId."""
    path = directory / "links.csv"
    links: dict[int, int] = {}
    for line, row in _rows(path, ("movieId", "tmdbId")):
        try:
            tmdb_id = (row["tmdbId"] or "").strip()
            if tmdb_id:
                links[int(row["movieId"])] = int(tmdb_id)
        except (TypeError, ValueError) as error:
            raise _fail(path, line, error) from None
    return links


def read_ratings(directory: Path) -> MovieLensRatings:
    path = directory / "ratings.csv"
    users: list[int] = []
    movies: list[int] = []
    ratings: list[int] = []
    timestamps: list[int] = []
    for line, row in _rows(path, ("userId", "movieId", "rating", "timestamp")):
        try:
            users.append(int(row["userId"]))
            movies.append(int(row["movieId"]))
            ratings.append(rating_to_scale(float(row["rating"])))
            timestamps.append(int(row["timestamp"]))
        except (TypeError, ValueError) as error:
            raise _fail(path, line, error) from None
    return MovieLensRatings(
        user_ids=np.asarray(users, dtype=np.int64),
        movie_ids=np.asarray(movies, dtype=np.int64),
        ratings=np.asarray(ratings, dtype=np.int64),
        timestamps=np.asarray(timestamps, dtype=np.int64),
    )


def read_movielens(directory: Path) -> MovieLensData:
    """All three files, validated; MovieLensFormatError names the first bad row."""
    directory = Path(directory)
    return MovieLensData(
        movies=read_movies(directory),
        links=read_links(directory),
        ratings=read_ratings(directory),
    )


# --------------------------------------------------------------------------------------------
# The import.
# --------------------------------------------------------------------------------------------


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
