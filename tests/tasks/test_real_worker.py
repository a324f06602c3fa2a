"""The jobs on a real Celery worker: a subprocess this test starts and stops itself, against
the Redis of TEST_REDIS_URL (skipped without it) and the suite's own database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import Favorite, JobRun, Movie, UserProfile
from app.tasks.catalogue import sync_tmdb_changes
from app.tasks.recommender import recommend_users, retrain
from app.tasks.runner import enqueue
from tests.factories import make_entry, make_movie, make_user
from tests.fake_tmdb import FakeTMDb
from tests.fake_tmdb import make_movie as tmdb_movie

REPOSITORY = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
WAIT_SECONDS = 60

pytestmark = [
    pytest.mark.committing,
    pytest.mark.skipif(not REDIS_URL, reason="needs a real Redis (set TEST_REDIS_URL)"),
]


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own, so that no other run's jobs are picked up; emptied after."""
    name = f"test-jobs-{os.getpid()}-{time.monotonic_ns()}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)


@pytest.fixture
def broker_app(app: Flask, queue: str, fake_tmdb: FakeTMDb) -> Flask:
    """The suite's app and database, sending its jobs to the real broker."""
    with app.app_context():
        database_url = db.engine.url.render_as_string(hide_password=False)
    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        TMDB_BASE_URL=fake_tmdb.base_url,
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_QUEUE=queue,
        CELERY_TASK_ALWAYS_EAGER=False,
    )


@pytest.fixture
def start_worker(
    broker_app: Flask, queue: str, fake_tmdb: FakeTMDb
) -> Iterator[Callable[..., subprocess.Popen[Any]]]:
    """Starts `celery -A make_celery worker ...` in a subprocess, as the Procfile does; every
    worker started is stopped after the test."""
    processes: list[subprocess.Popen[Any]] = []

    def start(*options: str, **settings: str) -> subprocess.Popen[Any]:
        environment = {
            **os.environ,
            "APP_ENV": "development",
            "DATABASE_URL": broker_app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": "",
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_QUEUE": queue,
            "TMDB_API_KEY": broker_app.config["TMDB_API_KEY"],
            "TMDB_BASE_URL": fake_tmdb.base_url,
            "JOBS_TMDB_SLEEP_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
            **settings,
        }
        command = [sys.executable, "-m", "celery", "-A", "make_celery", "worker"]
        command += ["--pool", "solo", "--without-heartbeat", "--without-gossip"]
        command += ["--without-mingle", "-l", "WARNING", *options]
        process = subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)  # a warm shutdown: the job under way finishes
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            _, errors = process.communicate(timeout=5)
            pytest.fail(f"the worker exited with {process.returncode}: {errors[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"the jobs did not finish within {WAIT_SECONDS} s")


def states(app: Flask) -> dict[str, tuple[str, int]]:
    with app.app_context():
        return {run.name: (run.state, run.attempts) for run in db.session.scalars(select(JobRun))}


def test_a_real_worker_runs_the_jobs_the_app_enqueues(
    app: Flask,
    broker_app: Flask,
    start_worker: Callable[..., subprocess.Popen[Any]],
    fake_tmdb: FakeTMDb,
) -> None:
    worker = start_worker()
    users = [make_user(app) for _ in range(2)]
    movies = [make_movie(app, tmdb_id=tmdb_id, title="Old") for tmdb_id in (21, 22, 23)]
    for user in users:
        for movie in movies[:2]:
            make_entry(app, Favorite, user, movie)
    fake_tmdb.changes = [21]

    with broker_app.app_context():
        enqueue(retrain, "test")
        enqueue(recommend_users, [user.id for user in users])
        enqueue(sync_tmdb_changes)
    # Sent, not run here: the rows wait for the worker.
    assert set(states(app).values()) == {("queued", 0)}

    expected = {
        "recommender.retrain": ("succeeded", 1),
        "recommender.recommend_users": ("succeeded", 1),
        "catalogue.sync_tmdb_changes": ("succeeded", 1),
    }
    wait_for(lambda: states(app) == expected, worker)

    with app.app_context():
        titles = dict(db.session.execute(select(Movie.tmdb_id, Movie.title)).tuples().all())
        stale = db.session.scalars(select(UserProfile.recommendations_stale)).all()
    assert titles == {21: tmdb_movie(21)["title"], 22: "Old", 23: "Old"}
    assert stale == [False, False]


def test_the_scheduler_starts_the_retrain_check_on_its_own(
    app: Flask, start_worker: Callable[..., subprocess.Popen[Any]], tmp_path: Path
) -> None:
    user = make_user(app)
    movie = make_movie(app)
    make_entry(app, Favorite, user, movie)

    worker = start_worker(
        "--beat", "--schedule", str(tmp_path / "beat-schedule"), JOBS_RETRAIN_CHECK_SECONDS="1"
    )

    # Never trained: the first check that beat sends retrains; later checks find nothing due.
    wait_for(lambda: states(app) == {"recommender.retrain_if_due": ("succeeded", 1)}, worker)
    with app.app_context():
        [run] = db.session.scalars(select(JobRun)).all()
    assert run.args_summary == "reason=never trained"
