"""The web workers as deployed: boot time, refresh latency, recycling and memory under gunicorn.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_workers \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/5 BENCH_PORT=8250 python -m benchmarks.workers

Builds the database of `make load` (loadtest/run.py: the demo catalogue plus synthetic films
up to BENCH_MOVIES, 10,000; 200 users with favourites and ratings) unless BENCH_KEEP_DATABASE
is set, trains a model version (`flask recommender train --if-due`) and issues an access
token for each of the 200 users. Then, for each worker count of BENCH_WORKER_COUNTS ("2,5"),
it starts `gunicorn --config gunicorn.conf.py wsgi:app` with the production configuration
(PostgreSQL, Redis, rate limits raised, recycling on) and measures:

1. boot: start -> gunicorn's "Listening at" -> the first 200 of the movie list (polled every
   20 ms), then the first refresh;
2. `POST /api/v1/recommendations/refresh/` with wrk, closed loop, each request for the next
   user (every wrk thread its own users): a warm-up of BENCH_WARMUP_SECONDS at the most
   connections (reported apart), then BENCH_SECONDS at each connection count of
   BENCH_CONNECTIONS ("1,4,8": one connection gives the service time without queueing):
   req/s, p50, p95, p99, max;
3. memory after those refreshes and BENCH_SECONDS of similar-movie requests: each process's
   RSS, peak RSS (VmHWM), PSS and private memory (benchmarks.worker_memory);
4. recycling: gunicorn again with `--max-requests` BENCH_RECYCLE_MAX_REQUESTS (50, so that
   a short run crosses several recycles; staggered as in production) and the same refresh
   load at BENCH_RECYCLE_CONNECTIONS (4) for BENCH_SECONDS: the run's percentiles, how many
   workers were replaced, and from the access log the latency of each replacement's first
   requests against the run's median.

BENCH_STEPS ("steady,recycling") chooses the steps: 1-3 are "steady", 4 is "recycling";
"profile" (not run by default) adds where one refresh's time goes, in-process under
cProfile, on the same data and configuration (`profile_refresh`).
Without BENCH_DATABASE_URL (PostgreSQL), BENCH_REDIS_URL or wrk it says so and exits 0.
Every server is stopped at the end of its step; each wrk run is bounded in time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any, TextIO

from benchmarks.recommender import REFRESH_URL, env_int, load_average
from benchmarks.worker_memory import children, memory_mib

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LIST_URL = "/api/v1/movies/movies/"
LOG_DIR = Path(tempfile.gettempdir())
# gunicorn's access-log atoms: worker pid ("<1234>"), request time in microseconds, status.
ACCESS_LOG_FORMAT = "%(p)s %(D)s %(s)s"
FIRST_REQUESTS = 5  # a replacement worker's requests compared with the run's median

# loadtest/run.py reads its settings when imported: point them at this benchmark's.
os.environ["LOAD_DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "")
os.environ["LOAD_REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "")
os.environ["LOAD_PORT"] = os.environ.get("BENCH_PORT", "8250")
os.environ["LOAD_MOVIES"] = os.environ.get("BENCH_MOVIES", "10000")
from loadtest import run as loadtest  # noqa: E402  (the database and the server's env)

WRK_SCRIPT = """
local tokens = {}
for line in io.lines("%(tokens)s") do tokens[#tokens + 1] = line end
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local counter = 0
function request()
  -- thread k of n takes users k, k + n, k + 2n...: no two threads refresh the same user
  counter = counter + 1
  local token = tokens[((counter * %(threads)d + id) %% #tokens) + 1]
  return wrk.format("%(method)s", "%(path)s",
                    {["Authorization"] = "Bearer " .. token, ["Content-Length"] = "0"})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "seconds": %%.3f, "p50": %%.2f, "p95": %%.2f, "p99": %%.2f, ' ..
    '"max": %%.2f, "non_2xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def settings_missing() -> str:
    """Why the benchmark cannot run here ("" when it can)."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (apt-get install wrk)"
    if not loadtest.DATABASE_URL.startswith("postgresql"):
        return "set BENCH_DATABASE_URL (a PostgreSQL database, emptied first)"
    if not loadtest.REDIS_URL.startswith("redis"):
        return "set BENCH_REDIS_URL (a Redis database number, flushed first)"
    import redis

    try:
        redis.Redis.from_url(loadtest.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at {loadtest.REDIS_URL} does not answer ({error})"
    return ""


def server_environment(workers: int) -> dict[str, str]:
    """`make load`'s production configuration, with gunicorn's own log at INFO (its
    "Listening at" line is the boot's milestone)."""
    return {**loadtest.server_environment(str(workers)), "LOG_LEVEL": "INFO"}


def prepare_data() -> Path:
    """The database (built, or kept), a current model version, and a file of access tokens."""
    env = server_environment(1)
    if not os.environ.get("BENCH_KEEP_DATABASE"):
        started = time.monotonic()
        loadtest.recreate_database()
        loadtest.populate(env)
        loadtest.TOKEN_FILE.unlink(missing_ok=True)
        print(f"database built in {time.monotonic() - started:.0f} s", flush=True)
    flask = str(BIN / "flask")
    subprocess.run([flask, "recommender", "train", "--if-due"], cwd=ROOT, env=env, check=True)
    tokens = LOG_DIR / f"movie-api-bench-workers-tokens-{loadtest.PORT}"
    command = [sys.executable, "-m", "benchmarks.workers", "--tokens", str(tokens)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=300)
    return tokens


def write_tokens(path: Path) -> None:
    """One access token per load-test user, one a line (run inside the server's env)."""
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import User
    from app.services.tokens import issue_tokens

    app = create_app()
    with app.app_context(), app.test_request_context():
        users = db.session.scalars(select(User).where(User.username.like("loadtest%"))).all()
        path.write_text("".join(issue_tokens(user)["access"] + "\n" for user in users))
    print(f"{len(users)} access tokens issued")


class Server:
    """gunicorn with the project's config, its log lines timestamped as they arrive."""

    def __init__(self, workers: int, extra: list[str], log: TextIO) -> None:
        self.lines: list[tuple[float, str]] = []
        self.log = log
        self.started = time.monotonic()
        command = [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", *extra, "wsgi:app"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.environment(workers),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: stopped with its workers
        )
        self.reader = threading.Thread(target=self.read_log, daemon=True)
        self.reader.start()

    @staticmethod
    def environment(workers: int) -> dict[str, str]:
        return server_environment(workers)

    def read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line))
            self.log.write(line)

    def seconds_until(self, text: str) -> float | None:
        return next((at - self.started for at, line in self.lines if text in line), None)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=40)
        self.reader.join(timeout=5)


def answer(method: str, path: str, token: str = "", timeout: float = 10) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"http://127.0.0.1:{loadtest.PORT}{path}"
    call = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def measure_boot(server: Server, token: str) -> dict[str, float | None]:
    """Seconds from start to "Listening at", to the first 200, and to the first refresh."""
    deadline = server.started + env_int("BENCH_TIMEOUT_SECONDS", 120)
    first_answer = None
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            if answer("GET", LIST_URL, timeout=2) == 200:
                first_answer = time.monotonic() - server.started
                break
        except OSError:
            pass
        time.sleep(0.02)
    if first_answer is None:
        raise SystemExit("gunicorn did not answer in time (its log is printed above)")
    started = time.monotonic()
    assert answer("POST", REFRESH_URL, token) == 200
    return {
        "listening": server.seconds_until("Listening at"),
        "first_answer": first_answer,
        "first_refresh_ms": (time.monotonic() - started) * 1000,
    }


def run_wrk(path: str, method: str, tokens: Path, connections: int, seconds: int) -> dict[str, Any]:
    """wrk, two threads (one for one connection), closed loop, each request with the next
    user's token."""
    threads = min(2, connections)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        values = {"tokens": tokens, "path": path, "method": method, "threads": threads}
        script.write(WRK_SCRIPT % values)
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
        command += ["-s", script.name, f"http://127.0.0.1:{loadtest.PORT}{path}"]
        output = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=True
        ).stdout
    finally:
        os.unlink(script.name)
    figures: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    figures["rps"] = round(figures["requests"] / figures["seconds"], 1)
    figures["connections"] = connections
    return figures


def show(label: str, figures: dict[str, Any]) -> None:
    print(
        f"  {label:<34} c={figures['connections']:<2} {figures['rps']:7.1f} req/s  p50 "
        f"{figures['p50']:6.1f}  p95 {figures['p95']:6.1f}  p99 {figures['p99']:6.1f}  max "
        f"{figures['max']:7.1f} ms  non-2xx {figures['non_2xx']}  socket errors "
        f"{figures['socket_errors']}",
        flush=True,
    )


def process_memory(master: int) -> dict[str, dict[str, float]]:
    figures = {"master": memory_mib(master)}
    for number, pid in enumerate(children(master), start=1):
        figures[f"worker {number}"] = memory_mib(pid)
    return figures


def steady_state(workers: int, tokens: Path, token: str, log: TextIO) -> dict[str, Any]:
    """Boot, refresh latency and memory with the production config as it is."""
    seconds, warmup = env_int("BENCH_SECONDS", 15), env_int("BENCH_WARMUP_SECONDS", 5)
    connections = [int(n) for n in os.environ.get("BENCH_CONNECTIONS", "1,4,8").split(",")]
    server = Server(workers, [], log)
    try:
        boot = measure_boot(server, token)
        print(
            f"  boot: Listening at {boot['listening']:.2f} s, first answer "
            f"{boot['first_answer']:.2f} s, first refresh {boot['first_refresh_ms']:.0f} ms"
        )
        warm = run_wrk(REFRESH_URL, "POST", tokens, max(connections), warmup)
        show("refresh, warm-up (excluded)", warm)
        runs = []
        for count in connections:
            runs.append(run_wrk(REFRESH_URL, "POST", tokens, count, seconds))
            show("refresh", runs[-1])
        similar = run_wrk("/api/v1/recommendations/similar/74/", "GET", tokens, 4, seconds)
        show("similar movies", similar)
        memory = process_memory(server.process.pid)
    finally:
        server.stop()
    for name, figure in memory.items():
        print(
            f"  {name}: RSS {figure['rss']} MiB (peak {figure['peak_rss']}), PSS "
            f"{figure['pss']} MiB, private {figure['private']} MiB"
        )
    total = sum(figure["pss"] for figure in memory.values())
    print(f"  all processes (sum of PSS): {total:.1f} MiB", flush=True)
    return {"boot": boot, "warmup": warm, "refresh": runs, "similar": similar, "memory": memory}


def watch_workers(master: int, seen: set[int], stop: threading.Event) -> None:
    """Every pid the master forks while the load runs (polled every 50 ms)."""
    while not stop.is_set():
        try:
            seen.update(children(master))
        except OSError:
            return
        time.sleep(0.05)


def recycling(workers: int, tokens: Path, token: str, log: TextIO) -> dict[str, Any]:
    """The refresh load across several recycles: does a replacement answer as fast?"""
    seconds = env_int("BENCH_SECONDS", 15)
    connections = env_int("BENCH_RECYCLE_CONNECTIONS", 4)
    limit = env_int("BENCH_RECYCLE_MAX_REQUESTS", 50)
    access_log = LOG_DIR / f"movie-api-bench-workers-access-{loadtest.PORT}.log"
    access_log.unlink(missing_ok=True)
    extra = ["--max-requests", str(limit), "--access-logfile", str(access_log)]
    extra += ["--access-logformat", ACCESS_LOG_FORMAT]
    server = Server(workers, extra, log)
    seen: set[int] = set()
    stop = threading.Event()
    try:
        measure_boot(server, token)
        first = set(children(server.process.pid))
        watcher = threading.Thread(target=watch_workers, args=(server.process.pid, seen, stop))
        watcher.start()
        try:
            figures = run_wrk(REFRESH_URL, "POST", tokens, connections, seconds)
        finally:
            stop.set()
            watcher.join()
    finally:
        server.stop()
    show(f"refresh, max_requests={limit}", figures)
    by_worker: dict[int, list[float]] = defaultdict(list)
    for line in access_log.read_text().splitlines():
        pid, micros, status = line.split()
        if status == "200":
            by_worker[int(pid.strip("<>"))].append(int(micros) / 1000)
    access_log.unlink()
    everything = [ms for latencies in by_worker.values() for ms in latencies]
    replacements = sorted(seen - first)
    # A replacement forked in the run's last moments may have served nothing yet.
    firsts = [by_worker[pid][:FIRST_REQUESTS] for pid in replacements if by_worker[pid]]
    first_requests = [ms for latencies in firsts for ms in latencies]
    median = statistics.median(everything)
    forks = fork_seconds(server)
    print(
        f"  {len(replacements)} workers replaced ({len(firsts)} served before the end), "
        f"old worker's exit to its replacement's boot: "
        f"{', '.join(f'{gap * 1000:.0f}' for gap in forks) or '-'} ms; the replacements' "
        f"first {FIRST_REQUESTS} requests: median "
        f"{statistics.median(first_requests) if first_requests else float('nan'):.1f} ms, max "
        f"{max(first_requests, default=float('nan')):.1f} ms; every request (gunicorn's "
        f"time): median {median:.1f} ms, p99 {percentile(everything, 0.99):.1f} ms",
        flush=True,
    )
    return {
        "max_requests": limit,
        "wrk": figures,
        "replacements": len(replacements),
        "exit_to_boot_seconds": forks,
        "replacement_first_requests_ms": firsts,
        "median_ms": median,
    }


def fork_seconds(server: Server) -> list[float]:
    """For each worker that exited, the time until the master logged the next boot."""
    gaps, exited = [], None
    for at, line in server.lines:
        if "Worker exiting" in line:
            exited = at
        elif "Booting worker" in line and exited is not None:
            gaps.append(at - exited)
            exited = None
    return gaps


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def worker_counts() -> list[int]:
    return [int(n) for n in os.environ.get("BENCH_WORKER_COUNTS", "2,5").split(",") if n]


def profile_refresh(tokens: Path) -> None:
    """Where one refresh's time goes, in-process (run inside the server's env): the app as a
    worker has it (the master's preparation done), the test client, 20 warm-up refreshes,
    the median wall and CPU time of 100, then cProfile over 100 more (each a different user
    in turn). cProfile inflates every call: read the shares, not the totals."""
    import cProfile
    import pstats

    from app import create_app
    from app.services.startup import prepare_for_workers

    app = create_app()
    prepare_for_workers(app)
    client = app.test_client()
    headers = [{"Authorization": f"Bearer {token}"} for token in tokens.read_text().split()]
    for header in headers[:20]:
        assert client.post(REFRESH_URL, headers=header).status_code == 200
    wall, cpu = [], []
    for header in headers[20:120]:
        started, started_cpu = time.perf_counter(), time.thread_time()
        client.post(REFRESH_URL, headers=header)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    print(
        f"refresh in-process, {len(wall)} users: median {statistics.median(wall):.1f} ms wall, "
        f"{statistics.median(cpu):.1f} ms CPU (load average {load_average()})"
    )
    profile = cProfile.Profile()
    profile.enable()
    for header in (headers[120:] + headers)[:100]:
        client.post(REFRESH_URL, headers=header)
    profile.disable()
    shown = r"app/|flask_smorest/response|flask_limiter/_ext|marshmallow/schema|orm/session"
    pstats.Stats(profile).sort_stats("cumulative").print_stats(shown, 40)
    pstats.Stats(profile).sort_stats("tottime").print_stats(8)


def main() -> int:
    if "--tokens" in sys.argv:
        write_tokens(Path(sys.argv[sys.argv.index("--tokens") + 1]))
        return 0
    if "--profile" in sys.argv:
        profile_refresh(Path(sys.argv[sys.argv.index("--profile") + 1]))
        return 0
    missing = settings_missing()
    if missing:
        print(f"skipped: {missing}.")
        return 0
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (1, 5, 15 min)", flush=True)
    tokens = prepare_data()
    token = tokens.read_text().split()[0]
    results: dict[str, Any] = {"movies": loadtest.MOVIES}
    log_path = LOG_DIR / f"movie-api-bench-workers-{loadtest.PORT}.log"
    try:
        with log_path.open("w") as log:
            steps = os.environ.get("BENCH_STEPS", "steady,recycling").split(",")
            for workers in worker_counts() if {"steady", "recycling"} & set(steps) else []:
                print(f"\n== {workers} workers (load average {load_average()})", flush=True)
                figures: dict[str, Any] = {}
                if "steady" in steps:
                    figures.update(steady_state(workers, tokens, token, log))
                if "recycling" in steps:
                    figures["recycling"] = recycling(workers, tokens, token, log)
                results[str(workers)] = figures
            if "profile" in steps:
                command = [sys.executable, "-m", "benchmarks.workers", "--profile", str(tokens)]
                env = server_environment(1)
                subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=600)
    finally:
        tokens.unlink(missing_ok=True)
    print(f"\nload average now {load_average()}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
