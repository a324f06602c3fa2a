"""How jobs are started: Celery's settings and schedule from ours, and the fallback to this
process when the broker cannot be reached."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from app import create_app
from app.tasks.recommender import retrain
from app.tasks.runner import beat_schedule, celery_settings, enqueue
from tests.fake_tmdb import FakeTMDb, unreachable_base_url

JobRuns = Callable[..., list[dict[str, Any]]]


def test_beat_schedules_tmdb_upkeep_only_when_tmdb_is_configured(app: Flask) -> None:
    config = {**app.config, "JOBS_RETRAIN_CHECK_SECONDS": 30}
    scheduled = beat_schedule(config)
    assert {entry["task"] for entry in scheduled.values()} == {
        "recommender.retrain_if_due",
        "recommender.retrain",
        "recommender.precompute_stale",
        "recommender.tune",
        "catalogue.sync_tmdb_changes",
        "catalogue.sync_tmdb_pages",
    }
    assert scheduled["retrain-when-due"]["schedule"].total_seconds() == 30
    assert scheduled["tmdb-lists"]["args"] == (config["JOBS_TMDB_SYNC_PAGES"],)

    without_tmdb = beat_schedule({**config, "TMDB_API_KEY": ""})
    assert not any(entry["task"].startswith("catalogue.") for entry in without_tmdb.values())


def test_beat_tunes_the_engine_weekly_unless_the_interval_is_zero(app: Flask) -> None:
    weekly = beat_schedule(app.config)["tune-on-schedule"]
    assert weekly["task"] == "recommender.tune"
    assert weekly["schedule"].total_seconds() == 7 * 24 * 3600
    never = beat_schedule({**app.config, "JOBS_TUNE_INTERVAL_SECONDS": 0})
    assert "recommender.tune" not in {entry["task"] for entry in never.values()}


def test_celery_settings_follow_ours(app: Flask) -> None:
    settings = celery_settings({**app.config, "CELERY_BROKER_URL": "redis://broker:6379/1"})
    assert settings["broker_url"] == "redis://broker:6379/1"
    assert settings["task_default_queue"] == "celery"
    assert settings["task_acks_late"] is True
    assert settings["task_ignore_result"] is True
    assert celery_settings(app.config)["task_always_eager"] is True  # the tests' config


def test_a_broker_that_cannot_be_reached_leaves_the_job_to_this_process(
    app: Flask, fake_tmdb: FakeTMDb, job_runs: JobRuns
) -> None:
    closed_port = unreachable_base_url().removeprefix("http://").removesuffix("/3")
    broker_down = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        TMDB_BASE_URL=fake_tmdb.base_url,
        CELERY_BROKER_URL=f"redis://{closed_port}/0",
        CELERY_TASK_ALWAYS_EAGER=False,
    )
    with broker_down.app_context():
        enqueue(retrain, "test", summary="reason=test")

    [recorded] = job_runs("recommender.retrain")
    assert (recorded["state"], recorded["attempts"]) == ("succeeded", 1)
