"""TMDb upkeep jobs against the fake TMDb: the `/movie/changes` sync, movies TMDb no longer
knows, and failures that are retried (TMDb down) or not (our key refused)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Movie
from app.services.jobs.cursors import TMDB_CHANGES, move_cursor, read_cursor
from app.tasks.catalogue import sync_tmdb_changes, sync_tmdb_pages
from app.tasks.runner import enqueue
from tests.factories import make_movie
from tests.fake_tmdb import FakeTMDb
from tests.fake_tmdb import make_movie as tmdb_movie

JobRuns = Callable[..., list[dict[str, Any]]]
CHANGES = "catalogue.sync_tmdb_changes"


def run(app: Flask, task: Any, *args: Any) -> None:
    with app.app_context():
        enqueue(task, *args)


def movie_by_tmdb_id(app: Flask, tmdb_id: int) -> Movie:
    with app.app_context():
        movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == tmdb_id))
        assert movie is not None
        db.session.expunge(movie)
        return movie


def test_changes_sync_refreshes_only_local_movies_tmdb_changed(
    app: Flask, fake_tmdb: FakeTMDb, job_runs: JobRuns
) -> None:
    make_movie(app, tmdb_id=11, title="Old title 11")
    make_movie(app, tmdb_id=12, title="Old title 12")
    fake_tmdb.changes = [11, 40, 41]  # 40 and 41 are not in our catalogue

    run(app, sync_tmdb_changes)

    assert movie_by_tmdb_id(app, 11).title == tmdb_movie(11)["title"]
    assert movie_by_tmdb_id(app, 11).runtime == tmdb_movie(11)["runtime"]
    assert movie_by_tmdb_id(app, 12).title == "Old title 12"
    assert fake_tmdb.count("/movie/11?") == 1
    assert fake_tmdb.count("/movie/40?") == 0
    [recorded] = job_runs(CHANGES)
    assert recorded["state"] == "succeeded"
    assert "3 changed on TMDb, 1 refreshed, 0 unknown to TMDb, 0 failed" in recorded["result"]
    assert recorded["progress"] == (1, 1)


def test_changes_sync_starts_where_the_last_run_ended_and_asks_every_page(
    app: Flask, fake_tmdb: FakeTMDb
) -> None:
    with app.app_context():
        move_cursor(TMDB_CHANGES, "2026-11-30")
        db.session.commit()
    make_movie(app, tmdb_id=31, title="Old")
    fake_tmdb.changes_page_size = 2
    fake_tmdb.changes = [1, 2, 3, 4, 31]

    run(app, sync_tmdb_changes)

    changes_requests = [path for path in fake_tmdb.requests if "/movie/changes" in path]
    assert len(changes_requests) == 3
    assert all("start_date=2026-11-30" in path for path in changes_requests)
    assert movie_by_tmdb_id(app, 31).title == tmdb_movie(31)["title"]
    with app.app_context():
        end = read_cursor(TMDB_CHANGES)
    assert end is not None and date.fromisoformat(end) >= date(2026, 12, 1)


def test_changes_sync_never_looks_back_more_than_tmdbs_fourteen_days(
    app: Flask, fake_tmdb: FakeTMDb
) -> None:
    with app.app_context():
        move_cursor(TMDB_CHANGES, "2020-01-01")
        db.session.commit()
    run(app, sync_tmdb_changes)
    [path] = [path for path in fake_tmdb.requests if "/movie/changes" in path]
    start = path.split("start_date=")[1][:10]
    end = path.split("end_date=")[1][:10]
    assert (date.fromisoformat(end) - date.fromisoformat(start)).days == 14


def test_a_movie_tmdb_answers_404_for_is_recorded_skipped_and_not_asked_again(
    app: Flask, fake_tmdb: FakeTMDb, job_runs: JobRuns
) -> None:
    make_movie(app, tmdb_id=900_002, title="Gone")
    make_movie(app, tmdb_id=13, title="Old")
    fake_tmdb.changes = [900_002, 13]

    run(app, sync_tmdb_changes)

    assert movie_by_tmdb_id(app, 13).title == tmdb_movie(13)["title"]
    gone = movie_by_tmdb_id(app, 900_002)
    assert isinstance(gone.tmdb_unknown_at, datetime)
    [recorded] = job_runs(CHANGES)
    assert recorded["state"] == "succeeded"
    assert "1 refreshed, 1 unknown to TMDb" in recorded["result"]

    run(app, sync_tmdb_changes)  # listed again: not asked again
    assert fake_tmdb.count("/movie/900002") == 1
    assert [r["state"] for r in job_runs(CHANGES)] == ["succeeded", "succeeded"]


def test_tmdb_down_is_retried_with_back_off_and_the_attempts_are_recorded(
    app: Flask, fake_tmdb: FakeTMDb, job_runs: JobRuns
) -> None:
    make_movie(app, tmdb_id=14, title="Old")
    fake_tmdb.changes = [14]
    # The client's own attempts (TMDB_MAX_RETRIES=2, so 3 calls) fail: the job's first
    # attempt fails, its retry finds TMDb back.
    fake_tmdb.failures = ["503", "503", "503"]

    run(app, sync_tmdb_changes)

    [recorded] = job_runs(CHANGES)
    assert recorded["state"] == "succeeded"
    assert recorded["attempts"] == 2
    assert "TMDb is unavailable" in recorded["error"]  # the failed attempt stays visible
    assert movie_by_tmdb_id(app, 14).title == tmdb_movie(14)["title"]


def test_a_job_that_keeps_failing_ends_failed_after_its_retries(
    app: Flask, fake_tmdb: FakeTMDb, job_runs: JobRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "JOBS_MAX_RETRIES", 2)
    fake_tmdb.failure = "503"
    with app.app_context():
        move_cursor(TMDB_CHANGES, "2026-11-30")
        db.session.commit()

    run(app, sync_tmdb_changes)

    [recorded] = job_runs(CHANGES)
    assert (recorded["state"], recorded["attempts"]) == ("failed", 3)
    assert recorded["error"].startswith("UpstreamUnavailable: TMDb is unavailable")
    assert recorded["finished"] and recorded["duration_seconds"] is not None
    with app.app_context():
        assert read_cursor(TMDB_CHANGES) == "2026-11-30"  # the next run covers the gap


def test_refused_credentials_fail_the_job_at_once(
    app: Flask, fake_tmdb: FakeTMDb, job_runs: JobRuns
) -> None:
    fake_tmdb.failure = "401"
    run(app, sync_tmdb_changes)
    [recorded] = job_runs(CHANGES)
    assert (recorded["state"], recorded["attempts"]) == ("failed", 1)
    assert "rejected our credentials" in recorded["error"]


def test_list_sync_job_saves_the_pages_and_the_details(
    app: Flask, fake_tmdb: FakeTMDb, job_runs: JobRuns
) -> None:
    fake_tmdb.movies = {tmdb_id: tmdb_movie(tmdb_id) for tmdb_id in (1, 2, 3)}
    run(app, sync_tmdb_pages, 1)
    [recorded] = job_runs("catalogue.sync_tmdb_pages")
    assert recorded["state"] == "succeeded", recorded
    assert "3 unique movies, 3 details fetched" in recorded["result"]
    assert movie_by_tmdb_id(app, 2).details_fetched_at is not None
