"""History imports: store an uploaded export, then run it into the user's library.

`create_import` reads the whole file first: a malformed one is refused (ValidationFailed
naming the line) and nothing of it is stored. `run_import` applies the rows through the
library services (so uniqueness and staleness rules hold), committing after each row with
the import's progress, so a run that stops half-way resumes from where it got to; applying
a row twice changes nothing, so re-importing the same file is harmless too. A job runner can
call `run_import(import_id)` unchanged; without one the API calls it inline.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict, Unpack

from flask import current_app
from sqlalchemy import func, select

from app.errors import (
    Conflict,
    DomainError,
    NotFound,
    UpstreamError,
    UpstreamUnavailable,
    ValidationFailed,
)
from app.extensions import db
from app.models import Import, Rating, WatchHistory, utcnow
from app.models.imports import CONFLICT_POLICIES
from app.services import history as history_service
from app.services import library
from app.services.imports.formats import (
    SOURCES,
    HistoryRow,
    MalformedFile,
    RowProblem,
    read_history,
)
from app.services.imports.matching import MovieMatcher
from app.services.recommendation_impressions import outcomes_not_attributed

COUNT_NAMES = (
    "rows_read",
    "matched",
    "unmatched",
    "invalid",
    "created",
    "updated",
    "already_present",
    "movies_added",
)


class PayloadTooLarge(DomainError, status=413, code="payload_too_large"):
    """The uploaded file is larger than IMPORT_MAX_BYTES."""


def max_upload_bytes() -> int:
    return int(current_app.config["IMPORT_MAX_BYTES"])


def read_upload(data: bytes, filename: str, source: str | None) -> Any:
    """The rows of an upload; ValidationFailed (naming the line) when it cannot be read."""
    limit = max_upload_bytes()
    if len(data) > limit:
        raise PayloadTooLarge(
            f"The file is {len(data)} bytes; imports take at most {limit} bytes.",
            code="import_too_large",
        )
    try:
        return read_history(
            data,
            filename,
            source,
            max_unpacked_bytes=limit * current_app.config["IMPORT_MAX_UNPACK_RATIO"],
        )
    except MalformedFile as error:
        raise ValidationFailed(
            f"The file cannot be imported: {error}.",
            code="malformed_import",
            errors={"file": [str(error)]},
        ) from None


def create_import(
    user_id: int,
    *,
    data: bytes,
    filename: str = "",
    source: str | None = None,
    on_conflict: str = "keep",
) -> Import:
    """Check and store an upload as a pending import of the user's. Commits."""
    if source is not None and source not in SOURCES:
        raise ValidationFailed(
            f"Unknown source {source!r}.", errors={"source": [f"One of {', '.join(SOURCES)}."]}
        )
    if on_conflict not in CONFLICT_POLICIES:
        raise ValidationFailed(
            f"Unknown on_conflict {on_conflict!r}.",
            errors={"on_conflict": [f"One of {', '.join(CONFLICT_POLICIES)}."]},
        )
    history = read_upload(data, filename, source)
    entry = Import(
        user_id=user_id,
        source=history.source,
        on_conflict=on_conflict,
        filename=filename[:255],
        status="pending",
        payload=data,
        rows_total=len(history.rows),
        counts=dict.fromkeys(COUNT_NAMES, 0),
        problems=[],
    )
    db.session.add(entry)
    db.session.commit()
    return entry


def get_import(user_id: int, import_id: int) -> Import:
    """One of the user's imports; another user's does not exist, as far as they know."""
    entry = db.session.scalar(
        select(Import).where(Import.id == import_id, Import.user_id == user_id)
    )
    if entry is None:
        raise NotFound(f"Import {import_id} does not exist.", code="import_not_found")
    return entry


class Upload(TypedDict, total=False):
    """An uploaded export and how to import it: the keyword arguments of create_import."""

    data: Required[bytes]
    filename: str
    source: str | None
    on_conflict: str


def import_file(user_id: int, **upload: Unpack[Upload]) -> Import:
    """Store an upload and run it at once (no job runner): the import, finished."""
    return run_import(create_import(user_id, **upload).id)


def run_import(import_id: int) -> Import:
    """Apply a stored import's rows, from where an earlier run stopped. Commits per row.

    TMDb failing stops the run with status "failed" (run it again to resume); a finished
    import is returned as it is.
    """
    entry = db.session.get(Import, import_id)
    if entry is None:
        raise NotFound(f"Import {import_id} does not exist.", code="import_not_found")
    if entry.status == "completed":
        return entry
    history = read_upload(entry.payload, entry.filename, entry.source)
    if entry.rows_done == 0:
        entry.counts = {
            **dict.fromkeys(COUNT_NAMES, 0),
            "rows_read": history.rows_read,
            "invalid": len(history.problems),
        }
        entry.problems = [problem.as_dict() for problem in history.problems]
    entry.rows_total = len(history.rows)
    entry.status = "running"
    entry.error = ""
    entry.started_at = entry.started_at or utcnow()
    db.session.commit()
    matcher = MovieMatcher()
    try:
        for index in range(entry.rows_done, len(history.rows)):
            with outcomes_not_attributed():
                outcome, problem = apply_row(
                    entry.user_id, entry.on_conflict, history.rows[index], matcher
                )
            record_outcome(entry, outcome, problem)
            entry.rows_done = index + 1
            db.session.commit()
    except (UpstreamError, UpstreamUnavailable) as error:
        db.session.rollback()
        entry.status = "failed"
        entry.error = f"Stopped at row {entry.rows_done + 1} of {entry.rows_total}: {error.detail}"
        db.session.commit()
        return entry
    entry.status = "completed"
    entry.finished_at = utcnow()
    db.session.commit()
    return entry


def record_outcome(entry: Import, outcome: list[str], problem: RowProblem | None) -> None:
    counts = dict(entry.counts)
    for name in outcome:
        counts[name] = counts.get(name, 0) + 1
    entry.counts = counts
    if problem is not None:
        entry.problems = [*entry.problems, problem.as_dict()]


def apply_row(
    user_id: int, on_conflict: str, row: HistoryRow, matcher: MovieMatcher
) -> tuple[list[str], RowProblem | None]:
    """Put one row into the library: the counts it adds, and its problem if it has one."""
    match = matcher.match(row.movie)
    added = ["movies_added"] if match.added_to_catalogue else []
    if match.added_to_catalogue:
        # Counted once: later rows of the same movie find it in the catalogue.
        matcher.answers[row.movie.key] = type(match)(match.movie_id)
    if match.movie_id is None:
        return ["unmatched"], problem_of(row, match.reason)
    try:
        result = apply_to_library(user_id, on_conflict, row, match.movie_id)
    except ValidationFailed as error:
        return [*added, "matched", "invalid"], problem_of(row, error.detail)
    return [*added, "matched", result], None


def problem_of(row: HistoryRow, reason: str) -> RowProblem:
    return RowProblem(row.file, row.line, row.movie.title, row.movie.year, reason)


def apply_to_library(user_id: int, on_conflict: str, row: HistoryRow, movie_id: int) -> str:
    """created, updated or already_present."""
    if row.kind == "rating":
        return apply_rating(user_id, on_conflict, row, movie_id)
    if row.kind == "viewing":
        return apply_viewing(user_id, row, movie_id)
    add = library.add_favorite if row.kind == "favorite" else library.add_to_watchlist
    try:
        add(user_id, movie_id=movie_id)
    except Conflict:
        return "already_present"
    return "created"


def apply_rating(user_id: int, on_conflict: str, row: HistoryRow, movie_id: int) -> str:
    existing = db.session.scalar(
        select(Rating).where(Rating.user_id == user_id, Rating.movie_id == movie_id)
    )
    if existing is None:
        if row.rating is None:
            raise ValidationFailed("a review without a rating: rate the movie to keep it")
        try:
            library.rate_movie(
                user_id, rating=row.rating, review=row.review or "", movie_id=movie_id
            )
        except Conflict:
            return "already_present"
        return "created"
    if on_conflict == "keep":
        return "already_present"
    rating = row.rating if row.rating is not None else existing.rating
    review = row.review if row.review is not None else existing.review
    if (existing.rating, existing.review) == (rating, review):
        return "already_present"
    library.update_rating(user_id, existing.id, rating=rating, review=review)
    return "updated"


def apply_viewing(user_id: int, row: HistoryRow, movie_id: int) -> str:
    """A viewing is new when the library has fewer viewings of the movie at that time than
    the file has up to this row (a rewatch on the same day is a second viewing)."""
    assert row.watched_at is not None
    stored = db.session.scalar(
        select(func.count(WatchHistory.id)).where(
            WatchHistory.user_id == user_id,
            WatchHistory.movie_id == movie_id,
            WatchHistory.watched_at == row.watched_at,
        )
    )
    if (stored or 0) > row.occurrence:
        return "already_present"
    history_service.record_viewing(user_id, movie_id, row.watched_at)
    return "created"
