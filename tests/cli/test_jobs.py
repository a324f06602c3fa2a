"""`flask jobs run NAME` runs a job here, recorded like a worker's; `flask jobs recent`
lists the runs."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import JobRun
from tests.factories import make_movie
from tests.fake_tmdb import FakeTMDb


def recorded(app: Flask) -> list[tuple[str, str, int]]:
    with app.app_context():
        return [
            (run.name, run.state, run.attempts)
            for run in db.session.scalars(select(JobRun).order_by(JobRun.id))
        ]


def test_run_retrain_here_prints_the_outcome_and_records_it(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["jobs", "run", "retrain"])
    assert result.exit_code == 0, result.output
    assert "recommender.retrain: succeeded after 1 attempt(s). Trained:" in result.output
    assert recorded(app) == [("recommender.retrain", "succeeded", 1)]


def test_run_tune_here_says_when_there_is_too_little_to_tune_on(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["jobs", "run", "tune"])
    assert result.exit_code == 0, result.output
    assert "recommender.tune: succeeded after 1 attempt(s). Not tuned: Nothing to" in result.output
    assert recorded(app) == [("recommender.tune", "succeeded", 1)]


def test_a_job_that_fails_exits_1_with_its_error(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    make_movie(app, tmdb_id=5)
    fake_tmdb.failure = "401"
    result = runner.invoke(args=["jobs", "run", "tmdb-changes"])
    assert result.exit_code == 1
    assert "catalogue.sync_tmdb_changes: failed after 1 attempt(s)." in result.output
    assert "rejected our credentials" in result.output
    assert recorded(app) == [("catalogue.sync_tmdb_changes", "failed", 1)]


def test_queue_without_a_broker_is_refused(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["jobs", "run", "retrain", "--queue"])
    assert result.exit_code == 2
    assert "--queue needs CELERY_BROKER_URL" in result.output
    assert recorded(app) == []


def test_recent_lists_the_latest_runs_first(app: Flask, runner: Any) -> None:
    runner.invoke(args=["jobs", "run", "retrain"])
    runner.invoke(args=["jobs", "run", "precompute"])
    result = runner.invoke(args=["jobs", "recent"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1  # precompute found nothing stale: no run of it
    assert "recommender.retrain" in lines[0] and "succeeded" in lines[0]
