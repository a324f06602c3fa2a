"""`make load`: a bounded load test of the production configuration on this machine.

Builds a PostgreSQL database (LOAD_DATABASE_URL, default the local `loadtest` database)
with the demo catalogue plus synthetic films up to LOAD_MOVIES, 200 users with a few
favourites and ratings each (the first one with stored recommendations), then, for each
gunicorn worker count (LOAD_WORKER_COUNTS, default `2,default`: two workers and the
config's own default), starts gunicorn with `gunicorn.conf.py` (production config, Redis
cache and rate-limit storage, worker recycling on) on 127.0.0.1 and runs wrk against each
hot endpoint at each connection count (LOAD_CONNECTIONS, default `8,32`): a warm-up of
LOAD_WARMUP_SECONDS (reported apart, never in the figures), then LOAD_SECONDS measured,
no think time. Each endpoint's req/s, p50 and p99 are reported with their ratio to a bare
Flask route that returns a constant JSON body (`loadtest/bare.py`), served by the same
gunicorn config: the ceiling of this machine. The same route after one primary-key SELECT
through a pooled SQLAlchemy engine is measured too: the ceiling of any read that sends a
statement; and after the three statements the stored recommendations need (token holder,
stored batch, impressions INSERT and commit): that endpoint's ceiling.

LOAD_KEEP_DATABASE=1 reuses the previous run's database (only a new token is issued).
`python loadtest/run.py --mix` (`make load-mix`) runs the locust traffic mix instead
(`loadtest/locustfile.py`) at LOAD_USERS and twice that.

Rate limits are raised for the run (RATELIMIT_*=1000000/hour): 200 accounts cannot
otherwise make tens of thousands of requests in a minute without being (rightly) throttled.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("LOAD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/loadtest")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/9")
MOVIES = int(os.environ.get("LOAD_MOVIES", "10000"))
USERS = int(os.environ.get("LOAD_USERS", "16"))
PORT = int(os.environ.get("LOAD_PORT", "8099"))
WORKERS = os.environ.get("LOAD_WORKERS", "4")
SEED = 20261125
# One pair of secrets for the whole run: the populate step signs the reader's token with it.
SECRET_KEY = secrets.token_urlsafe(48)
JWT_SECRET_KEY = secrets.token_urlsafe(48)
MIX = "--mix" in sys.argv
SECONDS = int(os.environ.get("LOAD_SECONDS", "60" if MIX else "10"))
WARMUP_SECONDS = int(os.environ.get("LOAD_WARMUP_SECONDS", "20" if MIX else "3"))
WORKER_COUNTS = os.environ.get("LOAD_WORKER_COUNTS", "2,default").split(",")
CONNECTIONS = [int(n) for n in os.environ.get("LOAD_CONNECTIONS", "8,32").split(",")]
# Where the populate step leaves the access token of the user whose recommendations are read.
TOKEN_FILE = Path(tempfile.gettempdir()) / f"movie-api-load-token-{PORT}"
BARE = "bare route"
BARE_QUERY = "bare route + 1 query"
BARE_STORED = "bare route + stored list's 3 statements"


def server_environment(workers: str = WORKERS) -> dict[str, str]:
    """The production configuration, on the load test's database and Redis; `workers`:
    WEB_CONCURRENCY, or `default` for the config's own default."""
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "JWT_SECRET_KEY": JWT_SECRET_KEY,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "FLASK_APP": "wsgi.py",
        "RATELIMIT_ANONYMOUS": "1000000/hour",
        "RATELIMIT_USER": "1000000/hour",
        "RATELIMIT_LOGIN": "1000000/hour",
        "RATELIMIT_REGISTER": "1000000/hour",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "GUNICORN_BIND": f"127.0.0.1:{PORT}",
        "WEB_CONCURRENCY": workers,
    }
    if workers == "default":
        env.pop("WEB_CONCURRENCY")
    return env


def recreate_database() -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(DATABASE_URL)
    admin = url.set(database="postgres", drivername="postgresql")
    conn = psycopg2.connect(admin.render_as_string(hide_password=False))
    try:
        conn.autocommit = True  # DROP/CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{url.database}"')
    finally:
        conn.close()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def populate(env: dict[str, str]) -> None:
    """Migrate, seed the demo catalogue, add synthetic films and the load-test users."""
    flask = str(BIN / "flask")
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, check=True)
    subprocess.run([flask, "seed-demo"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, __file__, "--populate"], cwd=ROOT, env=env, check=True)


def populate_in_app() -> None:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import Favorite, Genre, Movie, Rating
    from app.services.accounts import create_user
    from app.services.catalogue import upsert_movies

    app = create_app()
    rng = random.Random(SEED)
    with app.app_context():
        genre_ids = list(db.session.scalars(select(Genre.tmdb_id)))
        existing = db.session.scalar(select(db.func.count(Movie.id))) or 0
        payloads = []
        for n in range(max(0, MOVIES - existing)):
            released = date(1970, 1, 1) + timedelta(days=rng.randint(0, 20000))
            payloads.append(
                {
                    "id": 9_000_000 + n,
                    "title": f"Synthetic Film {n}",
                    "original_title": f"Synthetic Film {n}",
                    "release_date": released.isoformat(),
                    "genre_ids": rng.sample(genre_ids, rng.randint(1, 3)),
                    "popularity": round(rng.paretovariate(1.5) * 5, 2),
                    "vote_average": round(rng.uniform(3, 9), 1),
                    "vote_count": rng.randint(0, 20000),
                    "original_language": rng.choice(["en", "en", "en", "fr", "ja", "ko"]),
                    "adult": False,
                }
            )
        for start in range(0, len(payloads), 1000):
            upsert_movies(payloads[start : start + 1000])
        movie_ids = list(db.session.scalars(select(Movie.id)))
        for number in range(200):
            user = create_user(
                email=f"loadtest-{number}@example.com",
                username=f"loadtest{number}",
                password="load-test-password-2024",
            )
            for movie_id in rng.sample(movie_ids, 8):
                db.session.add(Favorite(user_id=user.id, movie_id=movie_id))
            for movie_id in rng.sample(movie_ids, 12):
                db.session.add(
                    Rating(user_id=user.id, movie_id=movie_id, rating=rng.randint(1, 10))
                )
            db.session.flush()
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                # After a bulk load: planner statistics, and the GIN (trigram) indexes'
                # pending lists merged, as autovacuum would do a little later.
                conn.exec_driver_sql("VACUUM ANALYZE")
        print(f"catalogue: {len(movie_ids)} movies; 200 users with favourites and ratings")
    prepare_reader(app)


def prepare_reader(app: Any) -> None:
    """Store the first load-test user's recommendations; leave their token in TOKEN_FILE."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User
    from app.services.recommendation.batches import store_recommendations
    from app.services.tokens import issue_tokens

    with app.app_context():
        reader = db.session.scalar(select(User).where(User.username == "loadtest0"))
        assert reader is not None
        store_recommendations(reader.id)
        with app.test_request_context():
            TOKEN_FILE.write_text(issue_tokens(reader)["access"])


def wait_until_ready(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health/ready/", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not become ready")


def run_locust(users: int, out_dir: Path, seconds: int = SECONDS) -> dict[str, str]:
    prefix = out_dir / f"load-{users}-{seconds}"
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "loadtest" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(max(1, users // 4)),  # ramp up over about 4 s, as real traffic does
            "--run-time",
            f"{seconds}s",
            "--stop-timeout",
            "5",
            "--host",
            f"http://127.0.0.1:{PORT}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        check=False,
        timeout=seconds + 120,
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    aggregated = next(row for row in rows if row["Name"] == "Aggregated")
    aggregated["per_endpoint"] = rows  # type: ignore[assignment]
    return aggregated


# --- The endpoints, with wrk ----------------------------------------------------------------


def endpoints(movie_id: int) -> list[tuple[str, str, bool]]:
    """(label, path, with the reader's token) of each hot read."""
    return [
        ("movie list", "/api/v1/movies/movies/?page=2", False),
        ("movie detail", f"/api/v1/movies/movies/{movie_id}/", False),
        ("recommendations (stored)", "/api/v1/recommendations/", True),
        ("similar movies", f"/api/v1/recommendations/similar/{movie_id}/", False),
        ("health", "/health/", False),
        ("liveness", "/health/live/", False),
    ]


def parse_wrk(output: str) -> dict[str, float]:
    """req/s, p50 and p99 (ms) and errors (socket errors, non-2xx/3xx) of wrk --latency."""

    def milliseconds(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if set(percentiles) != {"50", "99"}:
        raise SystemExit(f"wrk printed no latency distribution:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    return {
        "requests": float(requests.group(1)) if requests else 0.0,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50": milliseconds(percentiles["50"]),
        "p99": milliseconds(percentiles["99"]),
        "errors": float(errors + (int(non_2xx.group(1)) if non_2xx else 0)),
    }


def run_wrk(path: str, connections: int, seconds: int, token: str | None) -> dict[str, float]:
    """wrk on loopback, closed loop (no think time), two threads, bounded in time."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    result = subprocess.run(
        [*command, f"http://127.0.0.1:{PORT}{path}"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    return parse_wrk(result.stdout)


def start_server(env: dict[str, str], app: str) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", app],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    return server


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def wait_until_answering(path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer {path}")


def measure(label: str, path: str, token: str | None, workers: str) -> list[dict[str, Any]]:
    """The warm-up and the measured run of one endpoint, at each connection count."""
    rows = []
    for connections in CONNECTIONS:
        warm = run_wrk(path, connections, WARMUP_SECONDS, token)
        figures = run_wrk(path, connections, SECONDS, token)
        rows.append(
            {
                "endpoint": label,
                "workers": workers,
                "connections": connections,
                "warmup": warm,
                **figures,
            }
        )
        print(
            f"  {label:<26} c={connections:<3} {figures['rps']:8.1f} req/s  "
            f"p50 {figures['p50']:7.1f} ms  p99 {figures['p99']:7.1f} ms  "
            f"errors {figures['errors']:g}  (warm-up: {warm['rps']:.1f} req/s, "
            f"p99 {warm['p99']:.1f} ms)",
            flush=True,
        )
    return rows


def benchmark_workers(workers: str, movie_id: int, token: str) -> list[dict[str, Any]]:
    """The bare route, then every endpoint of the app, on `workers` gunicorn workers."""
    env = server_environment(workers)
    print(f"\n== {workers} workers", flush=True)
    rows: list[dict[str, Any]] = []
    bare = start_server(env, "loadtest.bare:app")
    try:
        wait_until_answering("/bare/")
        rows += measure(BARE, "/bare/", None, workers)
        rows += measure(BARE_QUERY, "/bare/query/", None, workers)
        rows += measure(BARE_STORED, "/bare/stored/", None, workers)
    finally:
        stop_server(bare)
    server = start_server(env, "wsgi:app")
    try:
        wait_until_ready()
        for label, path, with_token in endpoints(movie_id):
            rows += measure(label, path, token if with_token else None, workers)
    finally:
        stop_server(server)
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    """The table: each endpoint's figures and its ratio to the bare route's req/s."""
    ceiling = {(r["workers"], r["connections"]): r["rps"] for r in rows if r["endpoint"] == BARE}
    print(
        f"\n{MOVIES} movies, production config, {SECONDS}s measured per row after a "
        f"{WARMUP_SECONDS}s warm-up (excluded), wrk -t2, no think time"
    )
    print(
        "| workers | connections | endpoint | req/s | p50 ms | p99 ms | x bare | errors "
        "| warm-up req/s · p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if row["requests"] < 100:  # a handful of requests gives no percentile worth reading
            print(f"| (too few requests below: {row['requests']:g}, make the run longer) |")
        ratio = row["rps"] / ceiling[(row["workers"], row["connections"])]
        warm = row["warmup"]
        print(
            f"| {row['workers']} | {row['connections']} | {row['endpoint']} | "
            f"{row['rps']:.0f} | {row['p50']:.1f} | {row['p99']:.1f} | {ratio:.2f} | "
            f"{row['errors']:g} | {warm['rps']:.0f} · {warm['p99']:.1f} |"
        )
    results = Path(tempfile.gettempdir()) / "movie-api-load.json"
    results.write_text(json.dumps(rows, indent=1))
    print(f"\n(every figure, as JSON: {results})")


def run_endpoints() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    if os.environ.get("LOAD_KEEP_DATABASE"):  # the previous run's data, a new token
        subprocess.run(
            [sys.executable, __file__, "--reader"], cwd=ROOT, env=server_environment(), check=True
        )
    else:
        recreate_database()
        populate(server_environment())
    token = TOKEN_FILE.read_text().strip()
    TOKEN_FILE.unlink()
    movie_id = first_listed_movie_id()
    rows: list[dict[str, Any]] = []
    for workers in WORKER_COUNTS:
        rows += benchmark_workers(workers.strip(), movie_id, token)
    report(rows)


def first_listed_movie_id() -> int:
    """A movie of the catalogue (the demo's first), for the detail and similar movies."""
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(DATABASE_URL).set(drivername="postgresql")
    conn = psycopg2.connect(url.render_as_string(hide_password=False))
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT min(id) FROM movies WHERE deleted_at IS NULL")
            return int(cursor.fetchone()[0])
    finally:
        conn.close()


# --- The locust mix -------------------------------------------------------------------------


def run_mix() -> None:
    env = server_environment()
    recreate_database()
    populate(env)
    TOKEN_FILE.unlink(missing_ok=True)
    out_dir = Path(tempfile.mkdtemp(prefix="movie-api-load-"))
    server = start_server(env, "wsgi:app")
    try:
        wait_until_ready()
        # Warm-up, not reported: every worker builds its recommender arrays and item model,
        # fills its connection pool and SQLAlchemy's statement cache.
        run_locust(USERS, out_dir, WARMUP_SECONDS)
        results = [(users, run_locust(users, out_dir)) for users in (USERS, USERS * 2)]
    finally:
        stop_server(server)
    think = f"{os.environ.get('LOAD_THINK_MIN', '0.5')}-{os.environ.get('LOAD_THINK_MAX', '1.5')} s"
    print(
        f"\n{MOVIES} movies, {WORKERS} gunicorn workers, {SECONDS}s per run after a "
        f"{WARMUP_SECONDS}s warm-up, think time {think}, production config"
    )
    print(
        f"{'connections':>11} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'errors':>7}"
    )
    for users, row in results:
        print(
            f"{users:>11} {row['Request Count']:>9} {float(row['Requests/s']):>8.1f} "
            f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7} {row['Failure Count']:>7}"
        )
    shutil.rmtree(out_dir, ignore_errors=True)


def main() -> None:
    if "--populate" in sys.argv:
        populate_in_app()
    elif "--reader" in sys.argv:
        sys.path.insert(0, str(ROOT))
        from app import create_app

        prepare_reader(create_app())
    elif MIX:
        run_mix()
    else:
        run_endpoints()


if __name__ == "__main__":
    main()
