"""The local catalogue: idempotent upserts of TMDb movies and genres (keyed by tmdb_id),
the browse-and-persist operations behind the TMDb endpoints, and catalogue sync runs.

Everything here writes in one transaction per call and validates the whole batch before
the first write, so a malformed payload never leaves a half-saved movie behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import Insert, Select, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import contains_eager, selectinload

from app.errors import (
    DomainError,
    NotFound,
    PermissionDenied,
    UpstreamError,
    UpstreamUnavailable,
)
from app.extensions import cache, db
from app.models import Genre, Movie, User, movie_genres, utcnow
from app.services.pagination import Page, paginate
from app.services.tmdb import (
    GenreRecord,
    MalformedPayload,
    TMDbPage,
    normalise_genre,
    normalise_movie,
    tmdb_client,
)
from app.services.unit_of_work import unit_of_work

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
    with unit_of_work():
        tmdb_ids = write_tmdb_records(records)
    return movies_by_tmdb_id(tmdb_ids)


def write_tmdb_records(records: Iterable[Mapping[str, Any]]) -> list[int]:
    """`write_movies` for records TMDb sent: a malformed one is TMDb's error (502)."""
    try:
        return write_movies(records)
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
            [{"tmdb_id": g.tmdb_id, "name": g.name} for _, g in sorted(unique.items())]
        )
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["tmdb_id"],
            set_={"name": statement.excluded.name},  # type: ignore[attr-defined]
            where=Genre.__table__.c.name.is_distinct_from(statement.excluded.name),  # type: ignore[attr-defined]
        )
        db.session.execute(statement)
    return genre_ids_by_tmdb_id(unique)


def genre_ids_by_tmdb_id(tmdb_ids: Iterable[int] | None = None) -> dict[int, int]:
    statement = select(Genre.tmdb_id, Genre.id)
    if tmdb_ids is not None:
        statement = statement.where(Genre.tmdb_id.in_(list(tmdb_ids)))
    return dict(db.session.execute(statement).tuples().all())


def upsert_movies(payloads: Iterable[Mapping[str, Any]]) -> list[Movie]:
    """Insert or update movies (and their genre links) from TMDb records, in one
    transaction; returns the movies in the order given, duplicates collapsed."""
    with unit_of_work():
        tmdb_ids = write_movies(payloads)
    return movies_by_tmdb_id(tmdb_ids)


def write_movies(payloads: Iterable[Mapping[str, Any]]) -> list[int]:
    """Insert or update movies (and their genre links) from TMDb records. Does not commit.

    The whole batch is validated first (MalformedPayload), then written. Genres named in
    details records are upserted; list records link only genres already known. Returns
    the TMDb ids in the order given, duplicates collapsed.
    """
    rows_by_tmdb_id: dict[int, dict[str, Any]] = {}
    for payload in payloads:
        row = normalise_movie(payload)
        rows_by_tmdb_id[row["tmdb_id"]] = row
    if not rows_by_tmdb_id:
        return []
    named_genres = [g for row in rows_by_tmdb_id.values() for g in row.pop("genres", [])]
    upsert_genres(named_genres)
    movie_ids = _write_movie_rows(list(rows_by_tmdb_id.values()))
    _link_genres(movie_ids, rows_by_tmdb_id)
    return list(rows_by_tmdb_id)


def movies_by_tmdb_id(tmdb_ids: list[int]) -> list[Movie]:
    """The movies with these TMDb ids, in that order, with their genres, freshly read."""
    if not tmdb_ids:
        return []
    movies = db.session.scalars(
        select(Movie)
        .where(Movie.tmdb_id.in_(tmdb_ids))
        .options(selectinload(Movie.genres))
        .execution_options(populate_existing=True)
    ).all()
    by_tmdb_id = {movie.tmdb_id: movie for movie in movies}
    return [by_tmdb_id[tmdb_id] for tmdb_id in tmdb_ids]


def _write_movie_rows(rows: list[dict[str, Any]]) -> dict[int, int]:
    """Upsert movie rows grouped by the columns they carry; returns tmdb_id -> id."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    # Rows locked in tmdb_id order: two overlapping pages saved at once cannot deadlock.
    for row in sorted(rows, key=lambda row: row["tmdb_id"]):
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


# --- Persist-on-browse ------------------------------------------------------------------


@dataclass(frozen=True)
class BrowsedPage:
    """A TMDb list page, saved locally: the local movies in TMDb's order."""

    movies: list[Movie]
    page: int
    total_pages: int
    total_results: int


def ensure_genres_known(genre_tmdb_ids: Iterable[int]) -> None:
    """Sync the genre list (through the cache) when a record names a genre we lack."""
    wanted = set(genre_tmdb_ids)
    if wanted and not wanted <= set(genre_ids_by_tmdb_id(wanted)):
        upsert_genres(tmdb_client().genres())


def save_tmdb_page(tmdb_page: TMDbPage) -> BrowsedPage:
    """Save a TMDb list page (genres first, then movies) in one transaction."""
    with unit_of_work():
        ensure_genres_known(
            gid for record in tmdb_page.results for gid in record.get("genre_ids") or []
        )
        tmdb_ids = write_tmdb_records(tmdb_page.results)
    return BrowsedPage(
        movies=movies_by_tmdb_id(tmdb_ids),
        page=tmdb_page.page,
        total_pages=tmdb_page.last_page,
        total_results=tmdb_page.total_results,
    )


def browse_trending(window: str, page: int) -> BrowsedPage:
    """TMDb's trending movies of the day or week, saved locally."""
    return save_tmdb_page(tmdb_client().trending(window, page))


def browse_popular(page: int) -> BrowsedPage:
    return save_tmdb_page(tmdb_client().popular(page))


def browse_top_rated(page: int) -> BrowsedPage:
    return save_tmdb_page(tmdb_client().top_rated(page))


def search_tmdb(query: str, page: int) -> BrowsedPage:
    """TMDb's search results for `query`, saved locally."""
    return save_tmdb_page(tmdb_client().search(query, page))


def refresh_movie_from_tmdb(tmdb_id: int) -> Movie:
    """A movie's full TMDb details (through the cache), saved locally."""
    details = tmdb_client().movie_details(tmdb_id)
    return save_tmdb_records([details])[0]


# --- The local catalogue ------------------------------------------------------------------

ORDERINGS = {
    "popularity": Movie.popularity,
    "vote_average": Movie.vote_average,
    "vote_count": Movie.vote_count,
    "release_date": Movie.release_date,
    "title": Movie.title,
}


@dataclass(frozen=True)
class MovieFilters:
    genre_tmdb_ids: list[int] = field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    min_vote_average: float | None = None
    min_vote_count: int | None = None
    language: str | None = None
    search: str | None = None
    # A key of ORDERINGS, "-" in front for descending.
    ordering: str = "-popularity"


def may_see_adult_titles(viewer_id: int | None) -> bool:
    """Whether the viewer's profile allows adult titles (never for anonymous callers)."""
    viewer = db.session.get(User, viewer_id) if viewer_id is not None else None
    return bool(viewer is not None and viewer.profile is not None and viewer.profile.mature_content)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def catalogue_statement(filters: MovieFilters, viewer_id: int | None) -> Select[tuple[Movie]]:
    """The local catalogue, filtered and ordered (id breaks ties, so pages are stable)."""
    statement = select(Movie).where(Movie.deleted_at.is_(None))
    if not may_see_adult_titles(viewer_id):
        statement = statement.where(Movie.adult.is_(False))
    if filters.genre_tmdb_ids:
        in_genres = (
            select(movie_genres.c.movie_id)
            .join(Genre, Genre.id == movie_genres.c.genre_id)
            .where(
                movie_genres.c.movie_id == Movie.id,
                Genre.tmdb_id.in_(filters.genre_tmdb_ids),
            )
        )
        statement = statement.where(in_genres.exists())
    if filters.year_min is not None:
        statement = statement.where(Movie.release_date >= date(filters.year_min, 1, 1))
    if filters.year_max is not None:
        statement = statement.where(Movie.release_date <= date(filters.year_max, 12, 31))
    if filters.min_vote_average is not None:
        statement = statement.where(Movie.vote_average >= filters.min_vote_average)
    if filters.min_vote_count is not None:
        statement = statement.where(Movie.vote_count >= filters.min_vote_count)
    if filters.language:
        statement = statement.where(Movie.original_language == filters.language.lower())
    if filters.search:
        pattern = f"%{escape_like(filters.search)}%"
        statement = statement.where(
            or_(
                Movie.title.ilike(pattern, escape="\\"),
                Movie.original_title.ilike(pattern, escape="\\"),
            )
        )
    column = ORDERINGS[filters.ordering.removeprefix("-")]
    order = column.desc() if filters.ordering.startswith("-") else column.asc()
    if column is Movie.release_date:
        order = order.nulls_last()  # undated films last, on every backend
    return statement.order_by(order, Movie.id.asc())


def list_movies(
    filters: MovieFilters, page: int, page_size: int, viewer_id: int | None = None
) -> Page[Movie]:
    """A page of the local catalogue (three queries: count, page, genres)."""
    statement = catalogue_statement(filters, viewer_id).options(selectinload(Movie.genres))
    return paginate(statement, page, page_size)


# Built once with a bind parameter: SQLAlchemy keeps a statement object's cache key, so a
# detail request skips building and keying its query anew.
VISIBLE_MOVIE = (
    select(Movie)
    # Flat outer joins, not joinedload's nested `LEFT JOIN (movie_genres JOIN genres)`,
    # which SQLite answers by materialising every genre link.
    .outerjoin(movie_genres, movie_genres.c.movie_id == Movie.id)
    .outerjoin(Genre, Genre.id == movie_genres.c.genre_id)
    .where(Movie.id == bindparam("movie_id"), Movie.deleted_at.is_(None))
    .order_by(Genre.name)
    .options(contains_eager(Movie.genres))
)


def get_visible_movie(movie_id: int, viewer_id: int | None = None) -> Movie:
    """A local movie with its genres, in one query; adult titles only for viewers who
    allow them."""
    movie = db.session.scalars(VISIBLE_MOVIE, {"movie_id": movie_id}).unique().one_or_none()
    if movie is None:
        raise movie_not_found(movie_id)
    ensure_visible(movie_id, adult=movie.adult, viewer_id=viewer_id)
    return movie


def ensure_visible(movie_id: int, *, adult: bool, viewer_id: int | None) -> None:
    """Raise NotFound for an adult title the viewer's profile does not allow: to them it
    does not exist."""
    if adult and not may_see_adult_titles(viewer_id):
        raise movie_not_found(movie_id)


def movie_not_found(movie_id: int) -> NotFound:
    return NotFound(f"Movie {movie_id} does not exist.", code="movie_not_found")


# --- Genres ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenreCount:
    id: int
    tmdb_id: int
    name: str
    movie_count: int


GENRE_COUNTS_CACHE_KEY = "catalogue:genre-counts"


def list_genres_with_counts() -> list[GenreCount]:
    """Every genre with the number of catalogue movies in it, by name (one query).

    The counts are cached for GENRE_COUNTS_CACHE_SECONDS: counting every movie of every
    genre is the costliest read of the catalogue, and a count a minute old is fine.
    """
    seconds = current_app.config["GENRE_COUNTS_CACHE_SECONDS"]
    cached = cache.get(GENRE_COUNTS_CACHE_KEY) if seconds > 0 else None
    if cached is not None:
        return [GenreCount(*row) for row in cached]
    rows = db.session.execute(
        select(Genre.id, Genre.tmdb_id, Genre.name, func.count(Movie.id))
        .select_from(Genre)
        .outerjoin(movie_genres, movie_genres.c.genre_id == Genre.id)
        .outerjoin(Movie, (Movie.id == movie_genres.c.movie_id) & Movie.deleted_at.is_(None))
        .group_by(Genre.id, Genre.tmdb_id, Genre.name)
        .order_by(Genre.name, Genre.id)
    ).all()
    if seconds > 0:
        cache.set(GENRE_COUNTS_CACHE_KEY, [tuple(row) for row in rows], timeout=seconds)
    return [GenreCount(*row) for row in rows]


def sync_genres() -> int:
    """Refresh the genre list from TMDb (bypassing the cache); returns how many it names.

    Genres TMDb no longer lists are kept: movies and profiles still refer to them.
    """
    genres = tmdb_client().genres(refresh=True)
    with unit_of_work():
        upsert_genres(genres)
    cache.delete(GENRE_COUNTS_CACHE_KEY)
    return len(genres)


def sync_genres_for(actor_id: int) -> list[GenreCount]:
    """Staff refresh the genre list from TMDb; returns every genre with its counts."""
    actor = db.session.get(User, actor_id)
    if actor is None or not actor.is_staff:
        raise PermissionDenied("Only staff can sync genres.", code="staff_only")
    sync_genres()
    return list_genres_with_counts()


# --- Sync runs -------------------------------------------------------------------------------

SYNC_LISTS = ("trending_day", "popular", "top_rated", "trending_week")
DETAILS_BATCH_SIZE = 20

ProgressCallback = Callable[[int], None]


@dataclass
class SyncSummary:
    genres_synced: int = 0
    records_upserted: int = 0
    unique_movies: int = 0
    details_fetched: int = 0
    # Movies TMDb answered 404 for: recorded as unknown to TMDb and not asked for again.
    unknown_to_tmdb: int = 0
    failures: int = 0
    # Why the run stopped early (TMDb unavailable or refusing our key), if it did.
    aborted: str | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failures == 0 and self.aborted is None


def fetch_list_page(list_name: str, page: int) -> TMDbPage:
    client = tmdb_client()
    if list_name == "trending_day":
        return client.trending("day", page)
    if list_name == "trending_week":
        return client.trending("week", page)
    if list_name == "popular":
        return client.popular(page)
    if list_name == "top_rated":
        return client.top_rated(page)
    raise ValueError(f"unknown list {list_name!r}")


def is_fatal(error: DomainError) -> bool:
    """Failures that the next call would meet too: stop the run instead of retrying."""
    return isinstance(error, UpstreamUnavailable) or error.code == "tmdb_auth_failed"


def sync_catalogue(
    pages: int,
    *,
    sleep: float = 0.25,
    on_progress: ProgressCallback | None = None,
    summary: SyncSummary | None = None,
) -> SyncSummary:
    """Genres, then `pages` pages of each list in SYNC_LISTS, one transaction per page.

    A page that fails is counted and skipped; TMDb being unavailable (or refusing the
    key) stops the run, leaving the pages already committed in place.
    """
    summary = summary or SyncSummary()
    advance = on_progress or (lambda steps: None)
    seen: set[int] = set()
    try:
        summary.genres_synced = sync_genres()
    except DomainError as error:
        summary.failures += 1
        summary.aborted = f"genres: {error.detail}"
        return summary
    advance(1)
    for list_name in SYNC_LISTS:
        for page in range(1, pages + 1):
            time.sleep(sleep)
            try:
                saved = save_tmdb_page(fetch_list_page(list_name, page))
            except DomainError as error:
                summary.failures += 1
                summary.messages.append(f"{list_name} page {page}: {error.detail}")
                if is_fatal(error):
                    summary.aborted = f"{list_name} page {page}: {error.detail}"
                    summary.unique_movies = len(seen)
                    return summary
                advance(1)
                continue
            summary.records_upserted += len(saved.movies)
            seen.update(movie.tmdb_id for movie in saved.movies)
            advance(1)
            if page >= saved.total_pages:  # the list is shorter than asked
                advance(pages - page)
                break
    summary.unique_movies = len(seen)
    return summary


def movies_missing_details_count() -> int:
    return (
        db.session.scalar(
            select(func.count(Movie.id)).where(
                Movie.details_fetched_at.is_(None),
                Movie.deleted_at.is_(None),
                Movie.tmdb_unknown_at.is_(None),
            )
        )
        or 0
    )


def fetch_missing_details(
    *,
    sleep: float = 0.25,
    batch_size: int = DETAILS_BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
    summary: SyncSummary | None = None,
) -> SyncSummary:
    """Fetch full TMDb details for local movies that lack them, committing each batch."""
    summary = summary or SyncSummary()
    advance = on_progress or (lambda steps: None)
    last_id = 0
    while True:
        batch = db.session.execute(
            select(Movie.id, Movie.tmdb_id)
            .where(
                Movie.details_fetched_at.is_(None),
                Movie.deleted_at.is_(None),
                Movie.tmdb_unknown_at.is_(None),
                Movie.id > last_id,
            )
            .order_by(Movie.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return summary
        last_id = batch[-1].id
        records = []
        unknown = []
        for _, tmdb_id in batch:
            time.sleep(sleep)
            try:
                records.append(tmdb_client().movie_details(tmdb_id))
            except NotFound:
                unknown.append(tmdb_id)  # not a failure: TMDb removed (or never had) it
            except DomainError as error:
                summary.failures += 1
                summary.messages.append(f"details of TMDb movie {tmdb_id}: {error.detail}")
                if is_fatal(error):
                    summary.aborted = f"details of TMDb movie {tmdb_id}: {error.detail}"
                    if records:
                        summary.details_fetched += len(save_tmdb_records(records))
                    return summary
            advance(1)
        if records:
            summary.details_fetched += len(save_tmdb_records(records))
        summary.unknown_to_tmdb += mark_unknown_to_tmdb(unknown)


def mark_unknown_to_tmdb(tmdb_ids: Iterable[int]) -> int:
    """Record that TMDb answered 404 for these movies, so syncs stop asking; returns how
    many were newly recorded. Commits."""
    wanted = sorted(set(tmdb_ids))
    if not wanted:
        return 0
    result = db.session.execute(
        update(Movie)
        .where(Movie.tmdb_id.in_(wanted), Movie.tmdb_unknown_at.is_(None))
        .values(tmdb_unknown_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
