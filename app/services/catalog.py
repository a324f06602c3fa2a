"""The local catalogue: idempotent upserts of TMDb movies and genres (keyed by tmdb_id),
the browse-and-persist operations behind the TMDb endpoints, and catalogue sync runs.

Everything here writes in one transaction per call and validates the whole batch before
the first write, so a malformed payload never leaves a half-saved movie behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Insert, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from app.errors import NotFound, UpstreamError
from app.extensions import db
from app.models import Genre, Movie, movie_genres, utcnow
from app.services.tmdb import (
    GenreRecord,
    MalformedPayload,
    normalise_genre,
    normalise_movie,
    tmdb_client,
)

__all__ = [
    "GenreRecord",
    "MalformedPayload",
    "ensure_movie_by_tmdb_id",
    "get_movie",
    "normalise_genre",
    "normalise_movie",
    "upsert_genres",
    "upsert_movies",
]


def get_movie(movie_id: int) -> Movie:
    """A local movie by id; NotFound when there is none (or it was removed)."""
    movie = db.session.get(Movie, movie_id)
    if movie is None or movie.deleted_at is not None:
        raise NotFound(f"Movie {movie_id} does not exist.", code="movie_not_found")
    return movie


def ensure_movie_by_tmdb_id(tmdb_id: int) -> Movie:
    """The local movie with this TMDb id, fetched from TMDb and saved (with its genres)
    when it is not in the catalogue yet. Commits when it saves.

    Raises NotFound when TMDb has no such movie, UpstreamError/UpstreamUnavailable when
    TMDb fails.
    """
    movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == tmdb_id))
    if movie is not None and movie.deleted_at is None:
        return movie
    details = tmdb_client().movie_details(tmdb_id)
    return save_tmdb_records([details])[0]


def save_tmdb_records(records: list[dict[str, Any]]) -> list[Movie]:
    """Upsert validated TMDb records in one transaction; a malformed one saves nothing."""
    try:
        return upsert_movies(records)
    except MalformedPayload:
        raise UpstreamError(
            "TMDb sent a movie in an unexpected shape; nothing was saved.",
            code="tmdb_bad_response",
        ) from None


def dialect_insert(table: Any) -> Insert:
    """INSERT that supports ON CONFLICT on both PostgreSQL and SQLite."""
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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
