"""The local catalogue: idempotent upserts of TMDb movies and genres, keyed by tmdb_id.

Everything here writes in one transaction per call and validates the whole batch before
the first write, so a malformed payload never leaves a half-saved movie behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Insert, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from app.errors import NotFound
from app.extensions import db
from app.models import Genre, Movie, movie_genres, utcnow

# TMDb field -> Movie column, for the fields a list result carries.
LIST_FIELDS = (
    "title",
    "original_title",
    "overview",
    "poster_path",
    "backdrop_path",
    "release_date",
    "vote_average",
    "vote_count",
    "popularity",
    "original_language",
    "adult",
)
# The extra fields only the details endpoint carries.
DETAIL_FIELDS = ("runtime", "status", "budget", "revenue", "homepage")


class MalformedPayload(ValueError):
    """A TMDb record lacks a required field or has one of the wrong type."""


@dataclass(frozen=True)
class GenreRecord:
    tmdb_id: int
    name: str


def get_movie(movie_id: int) -> Movie:
    """A local movie by id; NotFound when there is none (or it was removed)."""
    movie = db.session.get(Movie, movie_id)
    if movie is None or movie.deleted_at is not None:
        raise NotFound(f"Movie {movie_id} does not exist.", code="movie_not_found")
    return movie


def dialect_insert(table: Any) -> Insert:
    """INSERT that supports ON CONFLICT on both PostgreSQL and SQLite."""
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _require_int(payload: Mapping[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedPayload(f"field {key!r} must be an integer, got {value!r}")
    return value


def _optional_number(payload: Mapping[str, Any], key: str, kind: type) -> Any:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedPayload(f"field {key!r} must be a number, got {value!r}")
    return kind(value)


def _optional_text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedPayload(f"field {key!r} must be a string, got {value!r}")
    return value


def parse_release_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"release_date must be a string, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(f"release_date {value!r} is not YYYY-MM-DD") from None


def normalise_genre(payload: Mapping[str, Any]) -> GenreRecord:
    name = _optional_text(payload, "name")
    if not name:
        raise MalformedPayload(f"genre {payload!r} has no name")
    return GenreRecord(tmdb_id=_require_int(payload, "id"), name=name[:100])


def normalise_movie(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Column values (plus `genre_tmdb_ids`) from a TMDb list or details record.

    Only the fields present in the payload are returned, so a list result never blanks
    the details (runtime, budget, ...) stored by an earlier details fetch.
    """
    if not isinstance(payload, Mapping):
        raise MalformedPayload(f"a movie must be an object, got {type(payload).__name__}")
    title = _optional_text(payload, "title")
    if not title:
        raise MalformedPayload(f"movie {payload.get('id')!r} has no title")
    row: dict[str, Any] = {"tmdb_id": _require_int(payload, "id"), "title": title[:500]}
    for key in (
        "original_title",
        "overview",
        "original_language",
        "status",
        "homepage",
    ):
        if key in payload:
            row[key] = (_optional_text(payload, key) or "")[: 500 if key != "overview" else None]
    for key in ("poster_path", "backdrop_path"):
        if key in payload:
            row[key] = _optional_text(payload, key)
    if "release_date" in payload:
        row["release_date"] = parse_release_date(payload["release_date"])
    for key, kind in (
        ("vote_average", float),
        ("popularity", float),
        ("vote_count", int),
    ):
        if key in payload:
            row[key] = _optional_number(payload, key, kind) or kind(0)
    for key in ("runtime", "budget", "revenue"):
        if key in payload:
            row[key] = _optional_number(payload, key, int)
    if "adult" in payload:
        row["adult"] = bool(payload["adult"])
    if "genres" in payload:  # details: [{id, name}]
        genres = payload["genres"]
        if not isinstance(genres, list):
            raise MalformedPayload("genres must be a list")
        row["genres"] = [normalise_genre(genre) for genre in genres]
        row["genre_tmdb_ids"] = [genre.tmdb_id for genre in row["genres"]]
    elif "genre_ids" in payload:  # lists: [id, ...]
        genre_ids = payload["genre_ids"]
        if not isinstance(genre_ids, list) or not all(
            isinstance(gid, int) and not isinstance(gid, bool) for gid in genre_ids
        ):
            raise MalformedPayload("genre_ids must be a list of integers")
        row["genre_tmdb_ids"] = list(genre_ids)
    if any(key in payload for key in DETAIL_FIELDS):
        row["details_fetched_at"] = utcnow()
    return row


def upsert_genres(genres: Iterable[GenreRecord]) -> dict[int, int]:
    """Insert or rename genres by tmdb_id; returns tmdb_id -> local id. Does not commit."""
    unique = {genre.tmdb_id: genre for genre in genres}
    if unique:
        statement = dialect_insert(Genre).values(
            [{"tmdb_id": g.tmdb_id, "name": g.name} for g in unique.values()]
        )
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["tmdb_id"],
            set_={"name": statement.excluded.name},  # type: ignore[attr-defined]
        )
        db.session.execute(statement)
    return genre_ids_by_tmdb_id(unique)


def genre_ids_by_tmdb_id(tmdb_ids: Iterable[int] | None = None) -> dict[int, int]:
    statement = select(Genre.tmdb_id, Genre.id)
    if tmdb_ids is not None:
        statement = statement.where(Genre.tmdb_id.in_(list(tmdb_ids)))
    return dict(db.session.execute(statement).tuples().all())


def upsert_movies(payloads: Iterable[Mapping[str, Any]], *, commit: bool = True) -> list[Movie]:
    """Insert or update movies (and their genre links) from TMDb records.

    The whole batch is validated first, then written in one transaction. Genres named
    in details records are upserted; list records link only genres already known.
    Returns the movies in the order given, duplicates collapsed.
    """
    rows_by_tmdb_id: dict[int, dict[str, Any]] = {}
    for payload in payloads:
        row = normalise_movie(payload)
        rows_by_tmdb_id[row["tmdb_id"]] = row
    if not rows_by_tmdb_id:
        return []
    try:
        named_genres = [g for row in rows_by_tmdb_id.values() for g in row.pop("genres", [])]
        upsert_genres(named_genres)
        movie_ids = _write_movie_rows(list(rows_by_tmdb_id.values()))
        _link_genres(movie_ids, rows_by_tmdb_id)
        if commit:
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    movies = db.session.scalars(
        select(Movie)
        .where(Movie.id.in_(movie_ids.values()))
        .execution_options(populate_existing=True)
    ).all()
    by_tmdb_id = {movie.tmdb_id: movie for movie in movies}
    return [by_tmdb_id[tmdb_id] for tmdb_id in rows_by_tmdb_id]


def _write_movie_rows(rows: list[dict[str, Any]]) -> dict[int, int]:
    """Upsert movie rows grouped by the columns they carry; returns tmdb_id -> id."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        values = {key: value for key, value in row.items() if key != "genre_tmdb_ids"}
        groups.setdefault(frozenset(values), []).append(values)
    now = utcnow()
    for columns, group in groups.items():
        statement = dialect_insert(Movie).values([{**row, "updated_at": now} for row in group])
        updated = {
            column: statement.excluded[column]  # type: ignore[attr-defined]
            for column in columns | {"updated_at"}
            if column != "tmdb_id"
        }
        updated["deleted_at"] = None  # a movie seen again on TMDb is back in the catalogue
        table = Movie.__table__.c
        # Rewrite a row only when TMDb's values changed: the same page twice changes nothing.
        changed = or_(
            table.deleted_at.is_not(None),
            *(
                table[column].is_distinct_from(statement.excluded[column])  # type: ignore[attr-defined]
                for column in columns
                if column not in {"tmdb_id", "details_fetched_at"}
            ),
        )
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["tmdb_id"], set_=updated, where=changed
        )
        db.session.execute(statement)
    tmdb_ids = [row["tmdb_id"] for row in rows]
    return dict(
        db.session.execute(select(Movie.tmdb_id, Movie.id).where(Movie.tmdb_id.in_(tmdb_ids)))
        .tuples()
        .all()
    )


def _link_genres(movie_ids: dict[int, int], rows: dict[int, dict[str, Any]]) -> None:
    """Make each movie's genre links exactly the ones its record names (known genres)."""
    with_genres = {tmdb_id: row for tmdb_id, row in rows.items() if "genre_tmdb_ids" in row}
    if not with_genres:
        return
    all_genre_tmdb_ids = {gid for row in with_genres.values() for gid in row["genre_tmdb_ids"]}
    genre_ids = genre_ids_by_tmdb_id(all_genre_tmdb_ids)
    wanted = {
        (movie_ids[tmdb_id], genre_ids[gid])
        for tmdb_id, row in with_genres.items()
        for gid in row["genre_tmdb_ids"]
        if gid in genre_ids
    }
    local_ids = [movie_ids[tmdb_id] for tmdb_id in with_genres]
    existing = set(
        db.session.execute(
            select(movie_genres.c.movie_id, movie_genres.c.genre_id).where(
                movie_genres.c.movie_id.in_(local_ids)
            )
        )
        .tuples()
        .all()
    )
    stale = existing - wanted
    if stale:
        db.session.execute(
            delete(movie_genres).where(
                tuple_(movie_genres.c.movie_id, movie_genres.c.genre_id).in_(list(stale))
            )
        )
    missing = wanted - existing
    if missing:
        statement = dialect_insert(movie_genres).values(
            [{"movie_id": m, "genre_id": g} for m, g in sorted(missing)]
        )
        db.session.execute(statement.on_conflict_do_nothing())  # type: ignore[attr-defined]
