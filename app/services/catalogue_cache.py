"""Pages of the local catalogue, kept ready to send until the catalogue changes.

A page of `GET /api/v1/movies/movies/` is the same for every caller with the same adult-titles
setting, and the catalogue is read far more often than it changes: the first page that every
client opens is the hottest request of the API. The page's count and its movies, as plain
data (`movie_data`: the columns and the genres, no ORM objects), are cached under a key that
holds the catalogue *generation*; every commit that touched a
movie or a genre moves the generation on, so a changed catalogue is never answered from an
older page:

- rows flushed by the ORM (the admin, soft deletes) are seen after the flush;
- INSERT, UPDATE and DELETE statements run through the session on the catalogue tables (the
  upserts of TMDb browsing and `flask sync-tmdb`, the MovieLens import) as they execute.

A movie's detail (`get_movie`) is cached the same way, by id; the adult-titles rule is
applied to each caller after the cache.

`CATALOGUE_PAGE_CACHE_SECONDS` bounds what neither can see (SQL typed by hand, writes on a
raw connection). It is 0 by default with the in-process cache, whose pages other processes'
changes could not invalidate.

Each process also keeps the pages it served last (`LocalPages`), under the same keys, and
the generation it read last, for `CATALOGUE_GENERATION_CHECK_SECONDS` (1 s): a repeated
page then costs no round trip to Redis at all (it cost two, and an unpickling). The price:
another worker's change reaches this one up to that second late, a sliver of the
`max-age` for which clients may reuse the page anyway; a worker's own changes it sees at
once. A page keeps the time it was made, so no copy outlives `CATALOGUE_PAGE_CACHE_SECONDS`.

While the shared cache is down there is no generation and nothing is cached, in Redis or in
a worker's own copies: every read goes to the database, as it must when no change can be
announced. A change saved meanwhile starts a new generation as soon as the cache answers
again, so the pages cached before it are not served once Redis is back.

`register_session_listeners` (called by `create_app`) installs the listeners that see the
changes.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import Result, event, inspect
from sqlalchemy.orm import ORMExecuteState, Session

from app.extensions import cache
from app.models import Genre, Movie
from app.services import catalogue
from app.services.catalogue import MovieFilters, may_see_adult_titles
from app.services.pagination import Page

logger = logging.getLogger(__name__)

GENERATION_KEY = "catalogue:generation"
CHANGED_FLAG = "catalogue_changed"
CATALOGUE_TABLES = frozenset({"movies", "genres", "movie_genres"})
MOVIE_COLUMNS = tuple(column.key for column in inspect(Movie).column_attrs)
GENRE_COLUMNS = tuple(column.key for column in inspect(Genre).column_attrs)


def mark_changed(session: Session) -> None:
    """Note that `session` wrote to the catalogue; the generation moves on when it commits."""
    session.info[CHANGED_FLAG] = True


def generation() -> str | None:
    """The current generation: a random token, so that a key the cache lost (evicted, pruned,
    flushed) is replaced by a new generation, never by an old one whose pages may remain.
    None while the cache cannot keep one (Redis down): nothing is cached then, here or in
    any worker's own copies, and every read goes to the database.

    A worker reuses what it read for `CATALOGUE_GENERATION_CHECK_SECONDS`, so a page served
    from this process's own copies costs no round trip at all; the generations it starts
    itself it knows at once (`advance_generation`)."""
    snapshot = _snapshot()
    if snapshot.advance_pending:  # a change this worker saved while the cache was down
        advance_generation()
        if snapshot.advance_pending:
            return None
    known, read_at = snapshot.state
    seconds = current_app.config["CATALOGUE_GENERATION_CHECK_SECONDS"]
    if known is not None and time.monotonic() - read_at < seconds:
        return known
    current = cache.get(GENERATION_KEY)
    if current is None:
        cache.add(GENERATION_KEY, secrets.token_hex(8), timeout=0)  # the first writer wins
        current = cache.get(GENERATION_KEY)
    if current is None:
        snapshot.forget()
        return None
    snapshot.remember(str(current))
    return str(current)


def advance_generation() -> None:
    """Start a new generation. Runs after the database commit, so a cache failure here is
    logged, not raised: the write is saved, nothing is cached until the cache is back, and
    the first page asked of this worker then starts the new generation (`generation`), so
    pages cached before the change are not served again once the cache answers."""
    snapshot = _snapshot()
    new = secrets.token_hex(8)
    try:
        stored = cache.set(GENERATION_KEY, new, timeout=0)
    except Exception:  # any cache backend's failure
        if not snapshot.advance_pending:  # logged once, not at every retry
            logger.exception("could not advance the catalogue generation")
        snapshot.advance_failed()
        return
    if not stored:  # a resilient backend answers its failures with False
        if not snapshot.advance_pending:
            logger.error("could not advance the catalogue generation: the cache is down")
        snapshot.advance_failed()
        return
    snapshot.remember(new)


class GenerationSnapshot:
    """The generation this app last read or started, and when (time.monotonic); one tuple,
    replaced whole, so the request threads of a worker never see half of an update. And
    whether a change still has to start a new one (`advance_pending`)."""

    def __init__(self) -> None:
        self.state: tuple[str | None, float] = (None, 0.0)
        self.advance_pending = False

    def remember(self, value: str) -> None:
        self.state = (value, time.monotonic())
        self.advance_pending = False

    def forget(self) -> None:
        self.state = (None, 0.0)

    def advance_failed(self) -> None:
        self.forget()
        self.advance_pending = True


def _snapshot() -> GenerationSnapshot:
    snapshot: GenerationSnapshot = current_app.extensions.setdefault(
        "catalogue_generation", GenerationSnapshot()
    )
    return snapshot


def page_key(filters: MovieFilters, page: int, page_size: int, adult: bool) -> str | None:
    """The page's cache key, or None when it is not cached: caching is off, or it is a text
    search (free text would give every caller as many entries as they can type; searches
    are served by trigram indexes on PostgreSQL instead)."""
    if current_app.config["CATALOGUE_PAGE_CACHE_SECONDS"] <= 0 or filters.search:
        return None
    current = generation()
    if current is None:
        return None
    request_key = repr((filters, page, page_size, adult)).encode()
    return f"catalogue:page:v2:{current}:{hashlib.sha256(request_key).hexdigest()}"


CachedPage = tuple[float, int, list[dict[str, Any]]]  # made at (epoch), count, movies
CachedMovie = tuple[float, dict[str, Any]]  # made at (epoch), the movie
Entry = TypeVar("Entry", bound=tuple[Any, ...])  # made at (epoch) first
Item = TypeVar("Item")


class LocalPages(Generic[Entry]):
    """The entries this process served last, by key (which names the generation), each
    until `CATALOGUE_PAGE_CACHE_SECONDS` after it was made (an entry's first item).
    Bounded: the least recently used go."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, seconds: float) -> Entry | None:
        with self._lock:
            cached = self._pages.get(key)
            if cached is None:
                return None
            if cached[0] + seconds <= time.time():
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return cached

    def put(self, key: str, cached: Entry) -> None:
        with self._lock:
            self._pages[key] = cached
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


local_pages: LocalPages[CachedPage] = LocalPages()
# A movie's detail is small and asked for by id: more of them fit (about 2 kB each).
local_movies: LocalPages[CachedMovie] = LocalPages(size=1024)


def movie_data(movie: Movie) -> dict[str, Any]:
    """A movie as plain data: every column, and its genres' columns."""
    data = {key: getattr(movie, key) for key in MOVIE_COLUMNS}
    data["genres"] = [{key: getattr(genre, key) for key in GENRE_COLUMNS} for genre in movie.genres]
    return data


@dataclass(frozen=True)
class KeptPage(Generic[Item]):
    """A page kept by this module's rules, with what lets the web layer keep its rendering
    exactly as long (`blueprints/rendered_pages.py`)."""

    page: Page[Item]
    key: str | None  # the page's cache key (it names the generation); None: not kept
    made_at: float  # when the page was built from the database (epoch)


def list_movies(
    filters: MovieFilters, page: int, page_size: int, viewer_id: int | None = None
) -> KeptPage[dict[str, Any]]:
    """A catalogue page of movies as plain data (`movie_data`), from the cache if it can.

    Out-of-range pages raise NotFound and are not cached.
    """
    key = page_key(filters, page, page_size, may_see_adult_titles(viewer_id))
    cached = _cached(local_pages, key) if key else None
    if cached is not None:
        made_at, count, movies = cached
    else:
        listed = catalogue.list_movies(filters, page, page_size, viewer_id=viewer_id)
        made_at, count = time.time(), listed.count
        movies = [movie_data(movie) for movie in listed.items]
        if key:
            _cache(local_pages, key, (made_at, count, movies))
    listing = Page(items=movies, count=count, page=page, page_size=page_size)
    return KeptPage(listing, key, made_at)


def get_movie(movie_id: int, viewer_id: int | None = None) -> dict[str, Any]:
    """A visible movie of the catalogue as plain data (`movie_data`), from the cache if it
    can (the page cache's rules: the key names the generation, so a write to the catalogue
    retires it). Unknown, removed and, for this viewer, adult movies raise NotFound and are
    not cached; the adult rule is applied after the cache, per viewer."""
    key = movie_key(movie_id)
    cached = _cached(local_movies, key) if key else None
    if cached is None:
        data = movie_data(catalogue.get_visible_movie(movie_id, viewer_id=viewer_id))
        if key:
            _cache(local_movies, key, (time.time(), data))
        return data
    data = cached[1]
    catalogue.ensure_visible(movie_id, adult=data["adult"], viewer_id=viewer_id)
    return data


def movie_key(movie_id: int) -> str | None:
    """A movie's cache key, or None when caching is off."""
    if current_app.config["CATALOGUE_PAGE_CACHE_SECONDS"] <= 0:
        return None
    current = generation()
    return None if current is None else f"catalogue:movie:v1:{current}:{movie_id}"


def _cached(local: LocalPages[Entry], key: str) -> Entry | None:
    seconds = current_app.config["CATALOGUE_PAGE_CACHE_SECONDS"]
    cached = local.get(key, seconds)
    if cached is None:
        cached = cache.get(key)
        if cached is not None:
            local.put(key, cached)
    return cached


def _cache(local: LocalPages[Entry], key: str, entry: Entry) -> None:
    cache.set(key, entry, timeout=current_app.config["CATALOGUE_PAGE_CACHE_SECONDS"])
    local.put(key, entry)


# --- Seeing changes -------------------------------------------------------------------------
# The flag lives in session.info until the outermost transaction ends: a released savepoint
# has committed nothing yet, and a savepoint rolled back may leave earlier writes standing.


def register_session_listeners(session_class: type[Session] = Session) -> None:
    """Watch every session of `session_class` for catalogue writes (idempotent).

    The default, SQLAlchemy's own Session class, covers every session the app opens:
    Flask-SQLAlchemy's, and any other bound to the same database (the test suite's).
    """
    listeners = (
        ("after_flush", _note_catalogue_writes),
        ("do_orm_execute", _note_catalogue_statements),
        ("after_commit", _advance_after_commit),
        ("after_rollback", _forget_rolled_back_writes),
    )
    for name, listener in listeners:
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)


def _note_catalogue_writes(session: Session, flush_context: Any) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(item, Movie | Genre) for item in touched):
        mark_changed(session)


def _note_catalogue_statements(state: ORMExecuteState) -> Result[Any] | None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) not in CATALOGUE_TABLES:
        return None
    # SQLAlchemy keeps an INSERT's row count only when asked to (it would report -1).
    result = state.invoke_statement(execution_options={"preserve_rowcount": True})
    # Upserts skip rows whose values did not change: browsing the same TMDb page again
    # writes nothing and keeps the pages. -1 (a count the driver does not know) is a change.
    if getattr(result, "rowcount", -1) != 0:
        mark_changed(state.session)
    return result


def _advance_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    if session.info.pop(CHANGED_FLAG, False) and has_app_context():
        advance_generation()


def _forget_rolled_back_writes(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(CHANGED_FLAG, None)
