"""A web worker's memory under gunicorn as deployed (`python -m benchmarks.worker_memory`).

    python -m benchmarks.worker_memory                    # after benchmarks.model_versions
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_models \\
    python -m benchmarks.worker_memory

Runs the project's gunicorn.conf.py (preload_app: the master imports the app and loads the
catalogue arrays and the current model version once, then forks the workers) with
BENCH_WORKERS workers (2) on port BENCH_PORT (a free one by default) against the database
`python -m benchmarks.model_versions` built (its data and model version; run that first).
Sends BENCH_SAMPLE (40) refreshes and as many similar-movie requests over HTTP, then reads
each process's /proc/PID/smaps_rollup:

- RSS counts every page a worker maps, the ones it shares with the master and the other
  workers included: added up over the workers it counts the shared pages once per worker;
- PSS divides each shared page among the processes sharing it: the PSS of the master and
  the workers add up to the memory they really take;
- private (USS) is what the worker alone holds: what one more worker costs.

Stops gunicorn at the end, or after BENCH_TIMEOUT_SECONDS (120) without an answer.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.tokens import issue_tokens
from benchmarks.recommender import (
    REFRESH_URL,
    SEED,
    database_url,
    env_int,
    load_average,
    make_app,
)
from config import INSTANCE_DIR

ROOT = Path(__file__).resolve().parent.parent
LOG = INSTANCE_DIR / "bench-worker-memory.log"
# The secret benchmarks.recommender.make_app signs with, so the server accepts our tokens.
JWT_SECRET = "benchmark-only-jwt-secret-key-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_gunicorn(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": url,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "RATELIMIT_ENABLED": "false",
        "JWT_SECRET_KEY": JWT_SECRET,
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    command = [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py"]
    with LOG.open("wb") as log:
        return subprocess.Popen(
            [*command, "wsgi:app"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its workers
        )


def request(base: str, method: str, path: str, token: str = "") -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    call = urllib.request.Request(f"{base}{path}", method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def wait_until_answering(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + env_int("BENCH_TIMEOUT_SECONDS", 120)
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{LOG.read_text(errors='replace')[-2000:]}")
        try:
            if request(base, "GET", "/health/live/") == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("gunicorn did not answer in time")


def memory_mib(pid: int) -> dict[str, float]:
    """RSS, PSS and private memory now, and the peak RSS (VmHWM), of process `pid`."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    private = fields["Private_Clean"] + fields["Private_Dirty"]
    return {
        "rss": round(fields["Rss"] / 1024, 1),
        "pss": round(fields["Pss"] / 1024, 1),
        "private": round(private / 1024, 1),
        "peak_rss": round(peak / 1024, 1),
    }


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listed:
        return [int(child) for child in listed.read().split()]


def main() -> int:
    url = database_url("models")  # the one benchmarks.model_versions built
    workers, sample = env_int("BENCH_WORKERS", 2), env_int("BENCH_SAMPLE", 40)
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (1, 5, 15 min)")
    app = make_app(url)
    rng = random.Random(SEED + 3)
    with app.app_context(), app.test_request_context():
        users = db.session.scalars(select(User).order_by(User.id).limit(sample)).all()
        tokens = [issue_tokens(user)["access"] for user in users]
        db.engine.dispose()
    port = env_int("BENCH_PORT", 0) or free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gunicorn(url, port, workers)
    try:
        wait_until_answering(base, server)
        for token in tokens:
            assert request(base, "POST", REFRESH_URL, token) == 200
            movie_id = rng.randint(1, 1000)
            assert request(base, "GET", f"/api/v1/recommendations/similar/{movie_id}/") == 200
        figures = {"master": memory_mib(server.pid)}
        for number, pid in enumerate(children(server.pid), start=1):
            figures[f"worker {number}"] = memory_mib(pid)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"gunicorn, {workers} workers, after {len(tokens)} refreshes and similar requests:")
    for name, figure in figures.items():
        print(
            f"  {name}: RSS {figure['rss']} MiB (peak {figure['peak_rss']}), "
            f"PSS {figure['pss']} MiB, private {figure['private']} MiB"
        )
    total = sum(figure["pss"] for figure in figures.values())
    print(f"all {len(figures)} processes together (sum of PSS): {total:.1f} MiB")
    print(json.dumps(figures))
    print(f"load average now {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
