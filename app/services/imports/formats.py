"""Reading history exports (Letterboxd, IMDb, Trakt) into plain rows; no database, no Flask.

`read_history` takes the uploaded bytes and returns every row worth importing (a rating, a
viewing, a watchlist entry or a favourite, each naming its movie by the ids and title the
file gives) and every row that cannot be imported, with its file, line and reason. A file
that cannot be read at all (bad ZIP, not UTF-8, broken quoting, a row with the wrong number
of fields, JSON that does not parse, unknown columns) raises `MalformedFile` naming the line.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath
from typing import Any

from app.models.library import rating_on_scale

SOURCES = ("letterboxd", "imdb", "trakt")
KINDS = ("rating", "viewing", "watchlist", "favorite")
IMDB_ID = re.compile(r"tt\d{7,10}")
# IMDb title types TMDb files as movies; series and episodes are not.
IMDB_MOVIE_TYPES = frozenset(
    {"movie", "tvmovie", "tv movie", "video", "short", "tvshort", "tv short", "tvspecial"}
)
TITLE_MAX = 500
ZIP_MAGIC = b"PK\x03\x04"

LETTERBOXD_BASIC = ("Date", "Name", "Year", "Letterboxd URI")
# Letterboxd's import format (what its importer reads; our letterboxd export writes it).
LETTERBOXD_IMPORT = ("Title", "Year", "tmdbID", "imdbID", "Rating10", "WatchedDate", "Review")
# Files of a Letterboxd ZIP that carry history, by path inside the ZIP.
LETTERBOXD_FILES = {
    "ratings.csv": "ratings",
    "reviews.csv": "reviews",
    "diary.csv": "diary",
    "watched.csv": "watched",
    "watchlist.csv": "watchlist",
    "likes/films.csv": "likes",
}
TRAKT_LISTS = {
    "history": "history",
    "watched-history": "history",
    "ratings": "ratings",
    "ratings-movies": "ratings",
    "watchlist": "watchlist",
    "watchlist-movies": "watchlist",
}


class MalformedFile(ValueError):
    """The file cannot be read: `where` names the file and line, `problem` what is wrong."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class MovieRef:
    """A movie as an export names it: ids when it has them, always a title."""

    title: str
    year: int | None = None
    tmdb_id: int | None = None
    imdb_id: str | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.tmdb_id, self.imdb_id, self.title.casefold(), self.year)


@dataclass(frozen=True)
class HistoryRow:
    """One thing to import. `occurrence` counts earlier viewings of the same movie at the
    same time in the file, so a rewatch on one day is two viewings, imported once each."""

    kind: str
    file: str
    line: int
    movie: MovieRef
    rating: Decimal | None = None  # 1 to 10 in steps of 0.5
    review: str | None = None
    watched_at: datetime | None = None
    occurrence: int = 0


@dataclass(frozen=True)
class RowProblem:
    """A row that was read but is not imported, and why."""

    file: str
    line: int
    title: str
    year: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "title": self.title,
            "year": self.year,
            "reason": self.reason,
        }


@dataclass
class ParsedExport:
    source: str
    rows: list[HistoryRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows_read: int = 0


class InvalidRow(ValueError):
    """A row whose values cannot be used (reported, the rest of the file is imported)."""


# --- entry point ----------------------------------------------------------------------------


def read_history(
    data: bytes, filename: str, source: str | None = None, *, max_unpacked_bytes: int
) -> ParsedExport:
    """Every importable row of an export, and the problems of the others."""
    files = unpack(data, filename, max_unpacked_bytes)
    detected = detect_source(files)
    if source is not None and source != detected:
        raise MalformedFile("", f"this looks like a {detected} export, not {source}")
    history = ParsedExport(source=detected)
    for name, content in files:
        if is_json(name, content):
            read_trakt(name, content, history)
        else:
            read_csv_file(name, content, history)
    history.rows = merge_ratings(history.rows)
    history.rows = number_viewings(history.rows)
    return history


def unpack(data: bytes, filename: str, max_unpacked_bytes: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each file to read: the upload itself, or the known files of a ZIP."""
    if not data.startswith(ZIP_MAGIC):
        if not data.strip():
            raise MalformedFile(filename, "the file is empty")
        return [(filename or "upload", data)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir() and is_history_member(info.filename)
        ]
        if sum(info.file_size for info in members) > max_unpacked_bytes:
            raise MalformedFile(filename, f"unpacks to more than {max_unpacked_bytes} bytes")
        files = [(info.filename, archive.read(info)) for info in members]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as error:
        raise MalformedFile(filename, f"not a readable ZIP file ({error})") from None
    if not files:
        raise MalformedFile(
            filename,
            "the ZIP holds no history file (ratings.csv, diary.csv, watched.csv, "
            "watchlist.csv, likes/films.csv, reviews.csv or Trakt JSON files)",
        )
    return sorted(files, key=lambda item: member_order(item[0]))


def is_history_member(path: str) -> bool:
    if path.startswith(("__MACOSX/", "deleted/", "orphaned/")):
        return False
    if path in LETTERBOXD_FILES or path.endswith(".json"):
        return True
    # Letterboxd ZIPs are sometimes re-packed inside a folder.
    return any(path.endswith("/" + name) for name in LETTERBOXD_FILES)


def member_order(path: str) -> tuple[int, str]:
    """Ratings before reviews (the rating a review attaches to), then the rest by name."""
    order = list(LETTERBOXD_FILES)
    for position, name in enumerate(order):
        if path == name or path.endswith("/" + name):
            return (position, path)
    return (len(order), path)


def is_json(name: str, content: bytes) -> bool:
    return name.lower().endswith(".json") or content.lstrip()[:1] in (b"[", b"{")


def decode(name: str, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise MalformedFile(f"{name} line {line}", "not UTF-8 text") from None


# --- detection ------------------------------------------------------------------------------


def detect_source(files: list[tuple[str, bytes]]) -> str:
    """letterboxd, imdb or trakt, from the first file's columns or JSON shape."""
    name, content = files[0]
    if is_json(name, content):
        return "trakt"
    header = csv_header(name, content)
    return source_of_header(name, header)


def csv_header(name: str, content: bytes) -> list[str]:
    text = decode(name, content)
    try:
        return next(csv.reader(io.StringIO(text), strict=True), [])
    except csv.Error as error:
        raise MalformedFile(f"{name} line 1", f"unreadable CSV header ({error})") from None


def source_of_header(name: str, header: list[str]) -> str:
    columns = set(header)
    if {"Const", "Title"} <= columns and ({"Your Rating", "Position"} & columns):
        return "imdb"
    if set(LETTERBOXD_BASIC) <= columns or ({"Title"} <= columns and "Rating10" in columns):
        return "letterboxd"
    if "Title" in columns and ({"tmdbID", "imdbID", "WatchedDate"} & columns):
        return "letterboxd"
    raise MalformedFile(
        f"{name} line 1",
        "unknown columns: expected a Letterboxd export (Date,Name,Year,Letterboxd URI,...), "
        "an IMDb export (Const,Your Rating,...) or a Trakt JSON export",
    )


# --- CSV ------------------------------------------------------------------------------------


def csv_records(name: str, content: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(line where the record starts, {column: value}) for each non-blank record."""
    reader = csv.reader(io.StringIO(decode(name, content), newline=""), strict=True)
    try:
        header = next(reader)
        width = len(header)
        end_of_previous = reader.line_num
        for values in reader:
            start = end_of_previous + 1
            end_of_previous = reader.line_num
            if not values or values == [""]:
                continue
            if len(values) != width:
                raise MalformedFile(
                    f"{name} line {start}", f"expected {width} fields, found {len(values)}"
                )
            yield start, dict(zip(header, (value.strip() for value in values), strict=True))
    except csv.Error as error:
        raise MalformedFile(f"{name} line {reader.line_num}", f"unreadable CSV ({error})") from None


def read_csv_file(name: str, content: bytes, history: ParsedExport) -> None:
    header = csv_header(name, content)
    source = source_of_header(name, header)
    if source != history.source:
        raise MalformedFile(f"{name} line 1", f"a {source} file among {history.source} files")
    reader = csv_reader_for(name, header)
    label = PurePosixPath(name).name if "likes/" not in name else "likes/films.csv"
    for line, record in csv_records(name, content):
        history.rows_read += 1
        try:
            history.rows.extend(reader(label, line, record))
        except InvalidRow as error:
            history.problems.append(
                RowProblem(
                    file=label,
                    line=line,
                    title=record.get("Name") or record.get("Title") or "",
                    year=safe_year(record.get("Year", "")),
                    reason=str(error),
                )
            )


RowReader = Callable[[str, int, dict[str, str]], list[HistoryRow]]


def csv_reader_for(name: str, header: list[str]) -> RowReader:
    columns = set(header)
    base = PurePosixPath(name).name.lower()
    if "Const" in columns:
        return imdb_rating_row if "Your Rating" in columns else imdb_watchlist_row
    if "Letterboxd URI" not in columns:
        return letterboxd_import_row
    if "Rating" in columns and "Review" in columns:
        return letterboxd_review_row
    if "Rating" in columns and ("Watched Date" in columns or "Rewatch" in columns):
        return letterboxd_diary_row
    if "Rating" in columns:
        return letterboxd_rating_row
    if base == "watchlist.csv":
        return letterboxd_watchlist_row
    if base == "films.csv" or "likes" in name.lower():
        return letterboxd_like_row
    if base == "watched.csv":
        return letterboxd_watched_row
    raise MalformedFile(
        f"{name} line 1",
        "Letterboxd's watched.csv, watchlist.csv and likes/films.csv share these columns: "
        "upload the ZIP, or keep the file's name",
    )


# --- values ---------------------------------------------------------------------------------


def safe_year(text: str) -> int | None:
    try:
        return parse_year(text)
    except InvalidRow:
        return None


def parse_year(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1870 <= int(text) <= 2200:
        raise InvalidRow(f"the year {text!r} is not a year")
    return int(text)


def parse_title(text: str) -> str:
    if not text:
        raise InvalidRow("the row has no title")
    return text[:TITLE_MAX]


def parse_date(text: str, column: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidRow(f"{column} {text!r} is not a date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_timestamp(text: Any, column: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise InvalidRow(f"{column} {text!r} is not a date and time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stars_to_rating(text: str) -> Decimal:
    """Letterboxd's 0.5 to 5 stars in half steps, doubled exactly to our 1-10 scale."""
    try:
        stars = Decimal(text)
    except InvalidOperation:
        raise InvalidRow(f"the rating {text!r} is not a number of stars") from None
    doubled = stars * 2
    rating = rating_on_scale(doubled) if doubled == doubled.to_integral_value() else None
    if rating is None:
        raise InvalidRow(f"the rating {text!r} is not 0.5 to 5 stars in half steps")
    return rating


def parse_rating10(value: Any) -> Decimal:
    """A rating out of 10, kept exactly: IMDb's and Trakt's whole numbers, or the half steps
    of this API's own exports (Letterboxd's Rating10 column, the IMDb-style CSV)."""
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidRow(f"the rating {text!r} is not a number") from None
    rating = rating_on_scale(number)
    if rating is None:
        raise InvalidRow(f"the rating {text!r} is not from 1 to 10 in steps of 0.5")
    return rating


def parse_imdb_id(text: str | None) -> str | None:
    if not text:
        return None
    if not IMDB_ID.fullmatch(text):
        raise InvalidRow(f"{text!r} is not an IMDb id (tt followed by digits)")
    return text


def parse_tmdb_id(value: Any) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise InvalidRow(f"{text!r} is not a TMDb id")
    return int(text)


def rated_row(
    file: str, line: int, movie: MovieRef, value: str, parse: Callable[[str], Decimal]
) -> list[HistoryRow]:
    """The row of a ratings export: its movie rated `value` (read by `parse`); a row
    without a rating is invalid."""
    if not value:
        raise InvalidRow("the row has no rating")
    return [HistoryRow("rating", file, line, movie, rating=parse(value))]


# --- Letterboxd -----------------------------------------------------------------------------


def letterboxd_movie(record: dict[str, str]) -> MovieRef:
    return MovieRef(title=parse_title(record["Name"]), year=parse_year(record["Year"]))


def letterboxd_rating_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    return rated_row(file, line, letterboxd_movie(record), record["Rating"], stars_to_rating)


def letterboxd_diary_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    """A diary entry: a viewing on its watched date (a rewatch is one more viewing)."""
    movie = letterboxd_movie(record)
    when = record.get("Watched Date") or record["Date"]
    rows = [HistoryRow("viewing", file, line, movie, watched_at=parse_date(when, "Watched Date"))]
    if record.get("Rating"):
        rows.append(
            HistoryRow("rating", file, line, movie, rating=stars_to_rating(record["Rating"]))
        )
    return rows


def letterboxd_review_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    movie = letterboxd_movie(record)
    rating = stars_to_rating(record["Rating"]) if record["Rating"] else None
    return [HistoryRow("rating", file, line, movie, rating=rating, review=record["Review"])]


def letterboxd_watched_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    movie = letterboxd_movie(record)
    when = parse_date(record["Date"], "Date")
    return [HistoryRow("viewing", file, line, movie, watched_at=when)]


def letterboxd_watchlist_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    return [HistoryRow("watchlist", file, line, letterboxd_movie(record))]


def letterboxd_like_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    return [HistoryRow("favorite", file, line, letterboxd_movie(record))]


def letterboxd_import_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    """Letterboxd's import format: ids when known, a rating out of 10, a watched date."""
    movie = MovieRef(
        title=parse_title(record.get("Title", "")),
        year=parse_year(record.get("Year", "")),
        tmdb_id=parse_tmdb_id(record.get("tmdbID")),
        imdb_id=parse_imdb_id(record.get("imdbID")),
    )
    rows: list[HistoryRow] = []
    if record.get("WatchedDate"):
        when = parse_date(record["WatchedDate"], "WatchedDate")
        rows.append(HistoryRow("viewing", file, line, movie, watched_at=when))
    if record.get("Rating10"):
        rating = parse_rating10(record["Rating10"])
        review = record.get("Review") or None
        rows.append(HistoryRow("rating", file, line, movie, rating=rating, review=review))
    elif record.get("Review"):
        rows.append(HistoryRow("rating", file, line, movie, review=record["Review"]))
    if not rows:
        raise InvalidRow("the row has neither a rating nor a watched date")
    return rows


# --- IMDb -----------------------------------------------------------------------------------


def imdb_movie(record: dict[str, str]) -> MovieRef:
    title_type = record.get("Title Type", "movie").strip().casefold()
    if title_type and title_type not in IMDB_MOVIE_TYPES:
        raise InvalidRow(f"not a movie (IMDb title type {record['Title Type']!r})")
    return MovieRef(
        title=parse_title(record["Title"]),
        year=parse_year(record.get("Year", "")),
        imdb_id=parse_imdb_id(record["Const"]),
    )


def imdb_rating_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    return rated_row(file, line, imdb_movie(record), record["Your Rating"], parse_rating10)


def imdb_watchlist_row(file: str, line: int, record: dict[str, str]) -> list[HistoryRow]:
    return [HistoryRow("watchlist", file, line, imdb_movie(record))]


# --- Trakt ----------------------------------------------------------------------------------


def read_trakt(name: str, content: bytes, history: ParsedExport) -> None:
    """A Trakt JSON export: one list (history, ratings or watchlist) or an object of them."""
    if history.source != "trakt":
        raise MalformedFile(name, f"a Trakt JSON file among {history.source} files")
    try:
        document = json.loads(decode(name, content))
    except json.JSONDecodeError as error:
        raise MalformedFile(
            f"{name} line {error.lineno}", f"not valid JSON ({error.msg}, column {error.colno})"
        ) from None
    if isinstance(document, list):
        lists = [(trakt_list_kind(name, document), PurePosixPath(name).stem, document)]
    elif isinstance(document, dict):
        lists = []
        for key, items in document.items():
            kind = TRAKT_LISTS.get(key)
            if kind is None:
                continue
            if not isinstance(items, list):
                raise MalformedFile(f"{name} {key}", "must be a list of items")
            lists.append((kind, key, items))
        if not lists:
            raise MalformedFile(name, "no history, ratings or watchlist list in this JSON")
    else:
        raise MalformedFile(name, "a Trakt export is a JSON list or object")
    for kind, label, items in lists:
        for position, item in enumerate(items, start=1):
            read_trakt_item(kind, label, position, item, history)


def trakt_list_kind(name: str, items: list[Any]) -> str:
    stem = PurePosixPath(name).stem.lower()
    if stem in TRAKT_LISTS:
        return TRAKT_LISTS[stem]
    first = next((item for item in items if isinstance(item, dict)), {})
    if "watched_at" in first:
        return "history"
    if "rated_at" in first or "rating" in first:
        return "ratings"
    if "listed_at" in first:
        return "watchlist"
    if not items:
        return "history"
    raise MalformedFile(name, "items have none of watched_at, rated_at or listed_at")


def read_trakt_item(kind: str, label: str, position: int, item: Any, history: ParsedExport) -> None:
    if isinstance(item, dict) and item.get("type", "movie") != "movie":
        return  # episodes and shows: not movies, and not counted as rows of this import
    history.rows_read += 1
    movie_data = item.get("movie") if isinstance(item, dict) else None
    title = movie_data.get("title") if isinstance(movie_data, dict) else None
    try:
        if not isinstance(movie_data, dict):
            raise InvalidRow("the item has no movie")
        ids = movie_data.get("ids") or {}
        if not isinstance(ids, dict):
            raise InvalidRow("the movie's ids are not an object")
        movie = MovieRef(
            title=parse_title(str(movie_data.get("title") or "")),
            year=parse_year(str(movie_data.get("year") or "")),
            tmdb_id=parse_tmdb_id(ids.get("tmdb")),
            imdb_id=parse_imdb_id(ids.get("imdb")),
        )
        if kind == "history":
            when = parse_timestamp(item.get("watched_at"), "watched_at")
            history.rows.append(HistoryRow("viewing", label, position, movie, watched_at=when))
        elif kind == "ratings":
            rating = parse_rating10(item.get("rating"))
            history.rows.append(HistoryRow("rating", label, position, movie, rating=rating))
        else:
            history.rows.append(HistoryRow("watchlist", label, position, movie))
    except InvalidRow as error:
        year = movie_data.get("year") if isinstance(movie_data, dict) else None
        history.problems.append(
            RowProblem(
                file=label,
                line=position,
                title=str(title or ""),
                year=year if isinstance(year, int) else None,
                reason=str(error),
            )
        )


# --- combining rows -------------------------------------------------------------------------


def merge_ratings(rows: list[HistoryRow]) -> list[HistoryRow]:
    """One rating row per movie: the first file's score (ratings.csv before a diary's), the
    last review text; a review with no score anywhere is kept only when it has text."""
    merged: dict[tuple[Any, ...], HistoryRow] = {}
    order: list[tuple[Any, ...] | int] = []
    for index, row in enumerate(rows):
        if row.kind != "rating":
            order.append(index)
            continue
        key = row.movie.key
        earlier = merged.get(key)
        if earlier is None:
            merged[key] = row
            order.append(key)
            continue
        merged[key] = replace(
            earlier,
            rating=earlier.rating if earlier.rating is not None else row.rating,
            review=row.review if row.review else earlier.review,
        )
    result: list[HistoryRow] = []
    for item in order:
        result.append(rows[item] if isinstance(item, int) else merged[item])
    return result


def number_viewings(rows: list[HistoryRow]) -> list[HistoryRow]:
    """Number repeated viewings of a movie at one time; a watched.csv viewing of a movie
    the diary already has is dropped (the diary has the real dates)."""
    in_diary = {row.movie.key for row in rows if row.kind == "viewing" and row.file == "diary.csv"}
    seen: Counter[tuple[Any, ...]] = Counter()
    result: list[HistoryRow] = []
    for row in rows:
        if row.kind == "viewing":
            if row.file == "watched.csv" and row.movie.key in in_diary:
                continue
            key = (row.movie.key, row.watched_at)
            row = replace(row, occurrence=seen[key])
            seen[key] += 1
        result.append(row)
    return result
