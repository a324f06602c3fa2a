"""TMDb upkeep: refresh the local movies TMDb changed since the last run (`/movie/changes`).

A movie TMDb answers 404 for is recorded as unknown to TMDb and never asked for again; one
movie failing is counted and skipped. The run itself fails (and its job is retried) only
when it cannot do its work: TMDb down or refusing our key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from app.errors import NotFound, UpstreamError
from app.extensions import db
from app.models import Movie, utcnow
from app.services.catalogue import DETAILS_BATCH_SIZE, mark_unknown_to_tmdb, save_tmdb_records
from app.services.jobs.cursors import TMDB_CHANGES, move_cursor, read_cursor
from app.services.tmdb import tmdb_client

# TMDb's /movie/changes covers at most 14 days; the first run looks back one day.
CHANGES_MAX_DAYS = 14
FIRST_RUN_DAYS = 1

ProgressCallback = Callable[[int, int], None]


@dataclass
class ChangesSummary:
    start: date
    end: date
    changed_on_tmdb: int = 0  # ids TMDb listed, ours or not
    refreshed: int = 0
    unknown_to_tmdb: int = 0
    failures: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.start} to {self.end}: {self.changed_on_tmdb} changed on TMDb, "
            f"{self.refreshed} refreshed, {self.unknown_to_tmdb} unknown to TMDb, "
            f"{len(self.failures)} failed"
        )


def changes_window(today: date) -> tuple[date, date]:
    """From where the last run ended (or yesterday) to today, at most TMDb's 14 days."""
    cursor = read_cursor(TMDB_CHANGES)
    start = date.fromisoformat(cursor) if cursor else today - timedelta(days=FIRST_RUN_DAYS)
    return max(start, today - timedelta(days=CHANGES_MAX_DAYS)), today


def changed_tmdb_ids(start: date, end: date) -> list[int]:
    """Every id TMDb lists as changed in the window, all pages."""
    client = tmdb_client()
    first = client.movie_changes(start, end, 1)
    ids = list(first.tmdb_ids)
    for page in range(2, first.total_pages + 1):
        ids.extend(client.movie_changes(start, end, page).tmdb_ids)
    return ids


def local_movies_to_refresh(tmdb_ids: list[int]) -> list[int]:
    """Those of `tmdb_ids` in the catalogue and not known to be unknown to TMDb, sorted."""
    wanted = sorted(set(tmdb_ids))
    found: list[int] = []
    for start in range(0, len(wanted), 500):
        found.extend(
            db.session.scalars(
                select(Movie.tmdb_id).where(
                    Movie.tmdb_id.in_(wanted[start : start + 500]),
                    Movie.deleted_at.is_(None),
                    Movie.tmdb_unknown_at.is_(None),
                )
            )
        )
    return sorted(found)


def sync_changed_movies(
    *,
    today: date | None = None,
    sleep: float = 0.0,
    on_progress: ProgressCallback | None = None,
) -> ChangesSummary:
    """Refresh, from TMDb's details, the local movies TMDb changed since the last run, a
    batch per transaction; the next run starts where this one ended. Raises
    UpstreamUnavailable (TMDb down) or UpstreamError (key refused) when it cannot work."""
    start, end = changes_window(today or utcnow().date())
    summary = ChangesSummary(start=start, end=end)
    changed = changed_tmdb_ids(start, end)
    summary.changed_on_tmdb = len(set(changed))
    to_refresh = local_movies_to_refresh(changed)
    done = 0
    for offset in range(0, len(to_refresh), DETAILS_BATCH_SIZE):
        batch = to_refresh[offset : offset + DETAILS_BATCH_SIZE]
        records, unknown = fetch_details(batch, summary, sleep)
        if records:
            summary.refreshed += len(save_tmdb_records(records))
        summary.unknown_to_tmdb += mark_unknown_to_tmdb(unknown)
        done += len(batch)
        if on_progress is not None:
            on_progress(done, len(to_refresh))
    move_cursor(TMDB_CHANGES, end.isoformat())
    db.session.commit()
    return summary


def fetch_details(
    tmdb_ids: list[int], summary: ChangesSummary, sleep: float
) -> tuple[list[dict[str, Any]], list[int]]:
    """Fresh details of each movie (bypassing the cache), and the ids TMDb has no movie for.
    A malformed record is counted in `summary` and skipped; TMDb down or refusing our key
    is raised."""
    records: list[dict[str, Any]] = []
    unknown: list[int] = []
    for tmdb_id in tmdb_ids:
        time.sleep(sleep)
        try:
            records.append(tmdb_client().movie_details(tmdb_id, refresh=True))
        except NotFound:
            unknown.append(tmdb_id)
        except UpstreamError as error:
            if error.code == "tmdb_auth_failed":
                raise
            summary.failures.append(f"TMDb movie {tmdb_id}: {error.detail}")
    return records, unknown
