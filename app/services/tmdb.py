"""The TMDb (API v3) HTTP client, and the parsing of the movie and genre records it returns.

One pooled `requests.Session` per app, timeouts on every call, retries with exponential
back-off on connection errors, 5xx and 429 (honouring Retry-After up to a cap), parsed and
validated JSON cached with flask-caching, and every failure turned into a domain error.
Each call has one total deadline (TMDB_TOTAL_DEADLINE) covering its connects, reads, a
body that trickles in, its retries and their waits.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask, current_app
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

from app.errors import NotFound, UpstreamError, UpstreamUnavailable
from app.extensions import cache
from app.models import utcnow

logger = logging.getLogger(__name__)

# TMDb serves at most 500 pages of any list.
MAX_TMDB_PAGE = 500
TRENDING_WINDOWS = ("day", "week")
# A v4 read access token is a JWT; a v3 key is 32 hex characters.
READ_TOKEN_PREFIX = "eyJ"
RETRY_STATUSES = (429, 500, 502, 503, 504)
POOL_SIZE = 10
# Largest TMDb body read (a details record is a few KB, a list page some 20 KB).
MAX_BODY_BYTES = 5 * 1024 * 1024

# The extra fields only the details endpoint carries.
DETAIL_FIELDS = ("runtime", "status", "budget", "revenue", "homepage")
# IMDb title ids: "tt" and 7 or more digits.
IMDB_ID = re.compile(r"tt\d{7,10}")


# --- Parsing TMDb records -------------------------------------------------------------


class MalformedPayload(ValueError):
    """A TMDb record lacks a required field or has one of the wrong type."""


@dataclass(frozen=True)
class GenreRecord:
    tmdb_id: int
    name: str


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
    if not isinstance(payload, Mapping):
        raise MalformedPayload(f"a genre must be an object, got {type(payload).__name__}")
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
    for key in ("original_title", "overview", "original_language", "status", "homepage"):
        if key in payload:
            text = _optional_text(payload, key) or ""
            limit = {"overview": None, "original_language": 10, "status": 50}.get(key, 500)
            row[key] = text[:limit]
    for key in ("poster_path", "backdrop_path"):
        if key in payload:
            path = _optional_text(payload, key)
            row[key] = path[:255] if path else None
    if "imdb_id" in payload:  # details only; "" or null when IMDb has no page
        imdb_id = _optional_text(payload, "imdb_id")
        row["imdb_id"] = imdb_id if imdb_id and IMDB_ID.fullmatch(imdb_id) else None
    if "release_date" in payload:
        row["release_date"] = parse_release_date(payload["release_date"])
    for key, kind in (("vote_average", float), ("popularity", float), ("vote_count", int)):
        if key in payload:
            row[key] = _optional_number(payload, key, kind) or kind(0)
    for key in ("runtime", "budget", "revenue"):
        if key in payload:
            row[key] = _optional_number(payload, key, int)
    if "adult" in payload:
        if not isinstance(payload["adult"], bool):
            raise MalformedPayload(f"field 'adult' must be a boolean, got {payload['adult']!r}")
        row["adult"] = payload["adult"]
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


def _check_movie_page(payload: Any) -> None:
    if not isinstance(payload, Mapping):
        raise MalformedPayload("a list response must be an object")
    for key in ("page", "total_pages", "total_results"):
        _require_int(payload, key)
    results = payload.get("results")
    if not isinstance(results, list):
        raise MalformedPayload("'results' must be a list")
    for record in results:
        normalise_movie(record)


def _check_find_results(payload: Any) -> None:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("movie_results"), list):
        raise MalformedPayload("a find response must have a movie_results list")
    for item in payload["movie_results"]:
        normalise_movie(item)


def _check_changes_page(payload: Any) -> None:
    if not isinstance(payload, Mapping):
        raise MalformedPayload("a changes response must be an object")
    for key in ("page", "total_pages"):
        _require_int(payload, key)
    results = payload.get("results")
    if not isinstance(results, list):
        raise MalformedPayload("'results' must be a list")
    for record in results:
        if not isinstance(record, Mapping):
            raise MalformedPayload("each change must be an object")
        _require_int(record, "id")


def _check_genre_list(payload: Any) -> None:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("genres"), list):
        raise MalformedPayload("a genre list must be an object with a 'genres' list")
    for genre in payload["genres"]:
        normalise_genre(genre)


# --- The client -----------------------------------------------------------------------


@dataclass(frozen=True)
class TMDbSettings:
    """Everything the client is built from; a change in config builds a new client."""

    base_url: str
    api_key: str
    language: str
    connect_timeout: float
    read_timeout: float
    max_retries: int
    backoff_factor: float
    max_retry_after: float
    total_deadline: float
    max_concurrent_calls: int
    cache_list_seconds: int
    cache_details_seconds: int
    cache_genres_seconds: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TMDbSettings:
        return cls(
            base_url=config["TMDB_BASE_URL"].rstrip("/"),
            api_key=config["TMDB_API_KEY"].strip(),
            language=config["TMDB_LANGUAGE"],
            connect_timeout=config["TMDB_CONNECT_TIMEOUT"],
            read_timeout=config["TMDB_READ_TIMEOUT"],
            max_retries=config["TMDB_MAX_RETRIES"],
            backoff_factor=config["TMDB_BACKOFF_FACTOR"],
            max_retry_after=config["TMDB_MAX_RETRY_AFTER"],
            total_deadline=config["TMDB_TOTAL_DEADLINE"],
            max_concurrent_calls=config["TMDB_MAX_CONCURRENT_CALLS"],
            cache_list_seconds=config["TMDB_CACHE_LIST_SECONDS"],
            cache_details_seconds=config["TMDB_CACHE_DETAILS_SECONDS"],
            cache_genres_seconds=config["TMDB_CACHE_GENRES_SECONDS"],
        )

    @property
    def uses_read_token(self) -> bool:
        return self.api_key.startswith(READ_TOKEN_PREFIX)


@dataclass(frozen=True)
class TMDbPage:
    """One page of a TMDb movie list: raw records, validated."""

    page: int
    total_pages: int
    total_results: int
    results: list[dict[str, Any]]

    @property
    def last_page(self) -> int:
        return min(self.total_pages, MAX_TMDB_PAGE)


_API_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"]+")


@dataclass(frozen=True)
class TMDbChangesPage:
    page: int
    total_pages: int
    tmdb_ids: list[int]


def redact_api_key(text: str) -> str:
    return _API_KEY_IN_TEXT.sub(r"\1[redacted]", text)


class RedactApiKeyFilter(logging.Filter):
    """urllib3 logs the URLs it retries, and a v3 key travels in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message:
            record.msg = redact_api_key(message)
            record.args = None
        return True


# The loggers that write request URLs (a logger's filters see only its own records).
URL_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


def install_log_redaction() -> None:
    for name in URL_LOGGERS:
        url_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactApiKeyFilter) for f in url_logger.filters):
            url_logger.addFilter(RedactApiKeyFilter())


# --- The deadline of one call ---------------------------------------------------------

# The monotonic time the current call must be over by (a call runs in one thread).
_call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tmdb_call_deadline", default=None
)


class DeadlineExceeded(requests.exceptions.Timeout):
    """The call's total deadline passed (raised from inside urllib3, past its handlers)."""


def seconds_left() -> float:
    deadline = _call_deadline.get()
    return math.inf if deadline is None else deadline - time.monotonic()


class DeadlineTimeout(Timeout):
    """urllib3's per-attempt timeouts, each cut to what is left of the call's deadline."""

    # A timeout must be positive: past the deadline the attempt fails at once.
    FLOOR = 0.001

    def clone(self) -> DeadlineTimeout:
        return DeadlineTimeout(connect=self._connect, read=self._read, total=self.total)

    @property
    def connect_timeout(self) -> float | None:
        return self._cut(super().connect_timeout)

    @property
    def read_timeout(self) -> float | None:
        return self._cut(super().read_timeout)

    def _cut(self, timeout: Any) -> float:
        left = max(self.FLOOR, seconds_left())
        return left if not isinstance(timeout, int | float) else max(self.FLOOR, min(timeout, left))


class DeadlineRetry(Retry):
    """urllib3's retry policy that never retries, or waits, past the call's deadline."""

    def increment(self, *args: Any, **kwargs: Any) -> Retry:  # type: ignore[override]
        if seconds_left() <= 0:
            raise DeadlineExceeded("TMDb call deadline passed")
        return super().increment(*args, **kwargs)

    def sleep(self, response: Any = None) -> None:
        wait = None
        if self.respect_retry_after_header and response is not None:
            wait = self.get_retry_after(response)
        if not wait:
            wait = self.get_backoff_time()
        if wait >= seconds_left():
            raise DeadlineExceeded("TMDb call deadline passes before the next retry")
        super().sleep(response)


def read_body(response: requests.Response) -> bytes:
    """The streamed body, read as it arrives, giving up at the deadline (a body that
    trickles in a byte at a time never resets a per-read timeout for long)."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    chunks: list[bytes] = []
    size = 0
    while True:
        left = seconds_left()
        if left <= 0:
            raise DeadlineExceeded("TMDb body still arriving at the deadline")
        if sock is not None:
            sock.settimeout(left)
        chunk = raw.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise requests.exceptions.ContentDecodingError("TMDb body too large")
        chunks.append(chunk)


def build_session(settings: TMDbSettings) -> requests.Session:
    """A pooled session that retries idempotent GETs on connection errors, 5xx and 429."""
    retry = DeadlineRetry(
        total=settings.max_retries,
        backoff_factor=settings.backoff_factor,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        retry_after_max=max(0, math.ceil(settings.max_retry_after)),
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Accept"] = "application/json"
    if settings.uses_read_token:
        session.headers["Authorization"] = f"Bearer {settings.api_key}"
    install_log_redaction()
    return session


class TMDbClient:
    """TMDb v3 endpoints used by the catalogue; every method returns validated data."""

    def __init__(self, settings: TMDbSettings) -> None:
        self.settings = settings
        self.session = build_session(settings)
        self.calls_in_flight = threading.BoundedSemaphore(max(1, settings.max_concurrent_calls))

    def close(self) -> None:
        self.session.close()

    # Endpoints ------------------------------------------------------------------------

    def trending(self, window: str = "day", page: int = 1) -> TMDbPage:
        if window not in TRENDING_WINDOWS:
            raise ValueError(f"window must be one of {TRENDING_WINDOWS}, not {window!r}")
        return self._movie_page(f"/trending/movie/{window}", {"page": page})

    def popular(self, page: int = 1) -> TMDbPage:
        return self._movie_page("/movie/popular", {"page": page})

    def top_rated(self, page: int = 1) -> TMDbPage:
        return self._movie_page("/movie/top_rated", {"page": page})

    def search(self, query: str, page: int = 1, *, year: int | None = None) -> TMDbPage:
        """Movies whose title matches `query`; only those released in `year` when given."""
        params: dict[str, Any] = {"query": query, "page": page, "include_adult": "false"}
        if year is not None:
            params["year"] = year
        return self._movie_page("/search/movie", params)

    def find_by_imdb_id(self, imdb_id: str) -> list[dict[str, Any]]:
        """The movies TMDb knows under an IMDb id (list records; usually one, or none)."""
        payload = self.get(
            f"/find/{imdb_id}",
            {"external_source": "imdb_id"},
            cache_seconds=self.settings.cache_details_seconds,
            check=_check_find_results,
        )
        return list(payload["movie_results"])

    def movie_details(self, tmdb_id: int, *, refresh: bool = False) -> dict[str, Any]:
        """A movie's full record (runtime, budget, genres...); NotFound when TMDb has none.
        `refresh` skips the cached copy (and replaces it)."""
        try:
            payload = self.get(
                f"/movie/{tmdb_id}",
                {},
                cache_seconds=self.settings.cache_details_seconds,
                check=normalise_movie,
                refresh=refresh,
            )
        except NotFound:
            raise NotFound(
                f"No movie with TMDb id {tmdb_id}.", code="tmdb_movie_not_found"
            ) from None
        return dict(payload)

    def movie_changes(self, start: date, end: date, page: int = 1) -> TMDbChangesPage:
        """Ids of the movies TMDb changed from `start` to `end` (at most 14 days), one page
        of at most 100; never cached (the answer moves all day)."""
        payload = self.get(
            "/movie/changes",
            {"start_date": start.isoformat(), "end_date": end.isoformat(), "page": page},
            cache_seconds=0,
            check=_check_changes_page,
            refresh=True,
        )
        return TMDbChangesPage(
            page=payload["page"],
            total_pages=payload["total_pages"],
            tmdb_ids=[int(record["id"]) for record in payload["results"]],
        )

    def genres(self, *, refresh: bool = False) -> list[GenreRecord]:
        """TMDb's movie genres; `refresh` skips the cached copy (and replaces it)."""
        payload = self.get(
            "/genre/movie/list",
            {},
            cache_seconds=self.settings.cache_genres_seconds,
            check=_check_genre_list,
            refresh=refresh,
        )
        return [normalise_genre(genre) for genre in payload["genres"]]

    # Transport ------------------------------------------------------------------------

    def _movie_page(self, path: str, params: dict[str, Any]) -> TMDbPage:
        payload = self.get(
            path, params, cache_seconds=self.settings.cache_list_seconds, check=_check_movie_page
        )
        return TMDbPage(
            page=payload["page"],
            total_pages=payload["total_pages"],
            total_results=payload["total_results"],
            results=list(payload["results"]),
        )

    def cache_key(self, path: str, params: Mapping[str, Any]) -> str:
        query = urlencode(sorted({**params, "language": self.settings.language}.items()))
        return f"tmdb:{self.settings.base_url}{path}?{query}"

    def get(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        cache_seconds: int,
        check: Callable[[Any], object],
        refresh: bool = False,
    ) -> Any:
        """GET `path` as validated JSON, from the cache when fresh (`cache_seconds` 0: never
        cached). Failures are never cached."""
        if not self.settings.api_key:
            raise UpstreamUnavailable(
                "TMDb is not configured: set TMDB_API_KEY to a TMDb API key (v3) or "
                "API read access token (v4).",
                code="tmdb_not_configured",
            )
        key = self.cache_key(path, params)
        if not refresh:
            cached = cache.get(key)
            if cached is not None:
                return cached
        payload = self._fetch(path, params)
        try:
            check(payload)
        except MalformedPayload as error:
            logger.warning("TMDb %s: malformed payload: %s", path, error)
            raise UpstreamError(
                "TMDb sent a response in an unexpected shape; nothing was saved.",
                code="tmdb_bad_response",
            ) from None
        if cache_seconds > 0:  # flask-caching reads 0 as "forever": 0 means "not at all"
            cache.set(key, payload, timeout=cache_seconds)
        return payload

    def _fetch(self, path: str, params: Mapping[str, Any]) -> Any:
        query = {**params, "language": self.settings.language}
        if not self.settings.uses_read_token:
            query["api_key"] = self.settings.api_key
        if not self.calls_in_flight.acquire(blocking=False):
            logger.warning("TMDb %s: too many calls in flight, refused", path)
            raise UpstreamUnavailable(
                "TMDb is answering slowly and this server is already waiting on it. "
                "Please retry shortly.",
                code="tmdb_unavailable",
                headers={"Retry-After": "10"},
            )
        token = _call_deadline.set(time.monotonic() + self.settings.total_deadline)
        try:
            response = self.session.get(
                self.settings.base_url + path,
                params=query,
                # requests passes a urllib3 Timeout through as it is (its stubs omit it).
                timeout=DeadlineTimeout(  # type: ignore[arg-type]
                    connect=self.settings.connect_timeout, read=self.settings.read_timeout
                ),
                stream=True,
            )
            with response:
                body = read_body(response)
        except requests.RequestException as error:
            # The exception's text holds the URL, and with it the key: log the class only.
            logger.warning("TMDb %s unreachable: %s", path, error.__class__.__name__)
            raise UpstreamUnavailable(
                "TMDb is unavailable: it could not be reached or did not answer in time. "
                "Please retry shortly.",
                code="tmdb_unavailable",
                headers={"Retry-After": "30"},
            ) from None
        finally:
            _call_deadline.reset(token)
            self.calls_in_flight.release()
        self._raise_for_status(path, response)
        try:
            return json.loads(body)
        except ValueError:
            logger.warning("TMDb %s: the body is not JSON", path)
            raise UpstreamError(
                "TMDb sent a malformed response (not JSON); nothing was saved.",
                code="tmdb_bad_response",
            ) from None

    def _raise_for_status(self, path: str, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        logger.warning("TMDb %s answered HTTP %s", path, status)
        if status == 401:
            raise UpstreamError(
                "TMDb rejected our credentials: check that TMDB_API_KEY holds a valid TMDb "
                "API key or read access token.",
                code="tmdb_auth_failed",
            )
        if status == 404:
            raise NotFound("TMDb has no such resource.", code="tmdb_not_found")
        if status == 429:
            retry_after = response.headers.get("Retry-After", "")
            raise UpstreamUnavailable(
                "TMDb is limiting our request rate. Please retry shortly.",
                code="tmdb_rate_limited",
                headers={"Retry-After": retry_after if retry_after.isdigit() else "10"},
            )
        if status >= 500:
            raise UpstreamUnavailable(
                f"TMDb is unavailable: it answered HTTP {status} after "
                f"{self.settings.max_retries + 1} attempts. Please retry shortly.",
                code="tmdb_unavailable",
                headers={"Retry-After": "30"},
            )
        raise UpstreamError(f"TMDb refused the request (HTTP {status}).", code="tmdb_error")


def tmdb_client(app: Flask | None = None) -> TMDbClient:
    """The app's client, built on first use and rebuilt when the TMDb settings change."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    settings = TMDbSettings.from_config(app.config)
    client: TMDbClient | None = app.extensions.get("tmdb")
    if client is None or client.settings != settings:
        if client is not None:
            client.close()
        client = TMDbClient(settings)
        app.extensions["tmdb"] = client
    return client
