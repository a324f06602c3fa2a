"""`flask recommend --all` fanned out over Celery workers: one worker process, then two.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_scaling \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/11 python -m benchmarks.scaling

Builds BENCH_USERS users (default 5,000) with BENCH_RATINGS_PER_USER ratings each (20) over
BENCH_MOVIES movies (10,000) in the bench database (emptied first), trains a model version,
then for each worker count in BENCH_WORKER_PROCESSES ("1,2") starts a real Celery worker
(`celery -A make_celery worker --concurrency N`, prefork) on a queue of its own, sends every
user as the group of chunks `flask recommend --all` sends (JOBS_RECOMMEND_CHUNK_SIZE users a
task, 100), waits until every chunk has finished, and stops the worker. The figure is the
group's makespan from the job_runs rows the workers wrote: first chunk started to last chunk
finished (the worker's boot is not in it; each process's first chunk loading the model and
the catalogue arrays is). Bounded: a run that has not finished within BENCH_TIMEOUT_SECONDS
(600) stops its worker and fails. Without PostgreSQL or Redis it says so and exits 0.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import redis
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db
from app.models import JobRun
from app.services.recommendation.model_versions import train_model_version
from app.tasks.fanout import fan_out_all_users
from benchmarks.recommender import Sizes, env_int, generate_data, load_average, reset_database
from config import INSTANCE_DIR

ROOT = Path(__file__).resolve().parent.parent
WORKER_LOG = INSTANCE_DIR / "bench-scaling-worker.log"
TASK_NAME = "recommender.recommend_users"
FINISHED = ("succeeded", "failed")
STORED = re.compile(r"Stored (\d+) batch")


def settings() -> tuple[str, str] | None:
    """(database URL, broker URL), or None (with the reason printed) when either is missing."""
    database_url = os.environ.get("BENCH_DATABASE_URL", "")
    broker_url = os.environ.get("BENCH_REDIS_URL", "")
    if not database_url.startswith("postgresql") or not broker_url.startswith("redis"):
        print("skipped: set BENCH_DATABASE_URL (PostgreSQL) and BENCH_REDIS_URL (Redis).")
        return None
    try:
        redis.Redis.from_url(broker_url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        print(f"skipped: Redis at {broker_url} does not answer ({error}).")
        return None
    return database_url, broker_url


def make_app(database_url: str, broker_url: str, queue: str) -> Flask:
    return create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=database_url,
        CELERY_BROKER_URL=broker_url,
        CELERY_QUEUE=queue,
        REDIS_URL="",
        LOG_LEVEL="WARNING",
    )


def start_worker(
    database_url: str, broker_url: str, queue: str, processes: int
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": queue,
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        str(Path(sys.executable).parent / "celery"),
        *("-A", "make_celery", "worker", "--pool", "prefork"),
        *("--concurrency", str(processes), "--queues", queue, "--loglevel", "WARNING"),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    with WORKER_LOG.open("wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # its own process group: stopped with its pool children
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)  # warm shutdown of this worker and its pool
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def wait_for_group(app: Flask, chunks: int, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + env_int("BENCH_TIMEOUT_SECONDS", 600)
    with app.app_context():
        while True:
            finished = (
                db.session.scalar(
                    select(func.count())
                    .select_from(JobRun)
                    .where(JobRun.name == TASK_NAME, JobRun.state.in_(FINISHED))
                )
                or 0
            )
            db.session.rollback()  # a fresh snapshot next time
            if finished >= chunks:
                return
            if worker.poll() is not None:
                log = WORKER_LOG.read_text(errors="replace")[-2000:]
                raise SystemExit(f"the worker exited ({worker.returncode}):\n{log}")
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out: {finished} of {chunks} chunks finished")
            time.sleep(0.5)


def makespan(app: Flask) -> tuple[float, int, int]:
    """(seconds from the first chunk started to the last finished, failed chunks, batches
    stored)."""
    with app.app_context():
        started, finished = db.session.execute(
            select(func.min(JobRun.started_at), func.max(JobRun.finished_at)).where(
                JobRun.name == TASK_NAME
            )
        ).one()
        failed = (
            db.session.scalar(
                select(func.count())
                .select_from(JobRun)
                .where(JobRun.name == TASK_NAME, JobRun.state == "failed")
            )
            or 0
        )
        results = db.session.scalars(select(JobRun.result).where(JobRun.name == TASK_NAME))
        stored = sum(int(match[1]) for r in results if (match := STORED.match(r)))
        elapsed: timedelta = finished - started
        return elapsed.total_seconds(), failed, stored


def clear_runs(app: Flask) -> None:
    """Forget the previous run's jobs (its batches stay: the next run replaces them)."""
    with app.app_context():
        db.session.execute(delete(JobRun))
        db.session.commit()


def run(database_url: str, broker_url: str, processes: int) -> float:
    queue = f"bench-scaling-{os.getpid()}-{processes}"
    app = make_app(database_url, broker_url, queue)
    clear_runs(app)
    worker = start_worker(database_url, broker_url, queue, processes)
    try:
        with app.app_context():
            chunks, users = fan_out_all_users()
        wait_for_group(app, chunks, worker)
    finally:
        stop_worker(worker)
        # The queue and kombu's routing keys for it: the broker database is left as found.
        bindings = (f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        redis.Redis.from_url(broker_url).delete(queue, *bindings)
    seconds, failed, batches = makespan(app)
    print(
        f"{processes} worker process(es): {users:,} users in {chunks} chunks, "
        f"{seconds:.1f} s ({users / seconds:.0f} users/s), {failed} chunk(s) failed, "
        f"{batches:,} batches stored"
    )
    return seconds


def main() -> int:
    configured = settings()
    if configured is None:
        return 0
    database_url, broker_url = configured
    users = env_int("BENCH_USERS", 5_000)
    sizes = Sizes(
        movies=env_int("BENCH_MOVIES", 10_000),
        users=users,
        ratings=users * env_int("BENCH_RATINGS_PER_USER", 20),
        sample=0,
    )
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (1, 5, 15 min)")
    app = make_app(database_url, broker_url, "unused")
    try:
        reset_database(app)
    except OperationalError as error:
        print(f"skipped: PostgreSQL at {database_url} does not answer ({error.orig}).")
        return 0
    started = time.perf_counter()
    counts = generate_data(app, sizes)
    with app.app_context():
        version = train_model_version()
        db.engine.dispose()
    print(
        f"data: {counts['movies']:,} movies, {counts['users']:,} users, {counts['ratings']:,} "
        f"ratings ({time.perf_counter() - started:.0f} s); model version {version.id}: "
        f"{version.items:,} items, trained in {version.training_seconds:.1f} s"
    )
    timings = {}
    for processes in (int(n) for n in os.environ.get("BENCH_WORKER_PROCESSES", "1,2").split(",")):
        timings[processes] = run(database_url, broker_url, processes)
    if 1 in timings and 2 in timings:
        print(f"speed-up with two processes: {timings[1] / timings[2]:.2f}x")
    print(f"load average now {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
