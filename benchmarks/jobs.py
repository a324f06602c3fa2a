"""What starting a job costs the request that asks for it (`python -m benchmarks.jobs`).

    BENCH_REDIS_URL=redis://127.0.0.1:6379/6 python -m benchmarks.jobs

Times `enqueue()` (the job's row written and committed, the message published) to a Redis
broker on a queue of its own that nobody reads (emptied afterwards), and the fallback when
the broker cannot be reached (a closed port: the row, one quick publish retry, then the job
scheduled in-process). SQLite under instance/ (BENCH_DATABASE_URL to change it), 200 each.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import redis
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from app.tasks.recommender import retrain_if_due
from app.tasks.runner import enqueue
from config import INSTANCE_DIR

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))


def build_app(database_url: str, broker_url: str, queue: str) -> Flask:
    app = create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=database_url,
        CELERY_BROKER_URL=broker_url,
        CELERY_QUEUE=queue,
        REDIS_URL="",
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def time_enqueues(app: Flask) -> list[float]:
    timings = []
    with app.test_request_context("/"):
        for _ in range(SAMPLES):
            started = time.perf_counter()
            enqueue(retrain_if_due, summary="benchmark")
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(label: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(
        f"{label}: median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, "
        f"max {ordered[-1]:.2f} ms ({len(ordered)} enqueues)"
    )


def main() -> None:
    broker_url = os.environ.get("BENCH_REDIS_URL", "")
    if not broker_url:
        sys.exit("Set BENCH_REDIS_URL (e.g. redis://127.0.0.1:6379/6).")
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    database_file = INSTANCE_DIR / "bench-jobs.db"
    database_file.unlink(missing_ok=True)
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{database_file}")
    queue = f"bench-jobs-{os.getpid()}"
    try:
        report("to Redis", time_enqueues(build_app(database_url, broker_url, queue)))
        down = build_app(database_url, "redis://127.0.0.1:1/0", queue)
        report("broker down (job kept in-process)", time_enqueues(down))
    finally:
        redis.Redis.from_url(broker_url).delete(queue)
        with create_app("development", SQLALCHEMY_DATABASE_URI=database_url).app_context():
            db.engine.dispose()
        database_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
