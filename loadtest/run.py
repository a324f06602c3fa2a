"""`make load`: a bounded load test of the production configuration on this machine.

Builds a PostgreSQL database (LOAD_DATABASE_URL, default the local `loadtest` database)
with the demo catalogue plus synthetic films up to LOAD_MOVIES, 200 users with a few
favourites and ratings each, starts gunicorn (production config, Redis cache and rate-limit
storage) on 127.0.0.1, then runs the locust mix headless at LOAD_USERS and at twice that,
LOAD_SECONDS each, and prints requests per second, p50/p95/p99 latency and errors.

Rate limits are raised for the run (RATELIMIT_*=1000000/hour): 200 accounts cannot
otherwise make tens of thousands of requests in a minute without being (rightly) throttled.
"""

from __future__ import annotations

import csv
import os
import random
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

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("LOAD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/loadtest")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/9")
MOVIES = int(os.environ.get("LOAD_MOVIES", "10000"))
USERS = int(os.environ.get("LOAD_USERS", "16"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
WARMUP_SECONDS = int(os.environ.get("LOAD_WARMUP_SECONDS", "20"))
PORT = int(os.environ.get("LOAD_PORT", "8099"))
WORKERS = os.environ.get("LOAD_WORKERS", "4")
SEED = 20261125


def server_environment() -> dict[str, str]:
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
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
        "WEB_CONCURRENCY": WORKERS,
    }
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


def main() -> None:
    if "--populate" in sys.argv:
        populate_in_app()
        return
    env = server_environment()
    recreate_database()
    populate(env)
    out_dir = Path(tempfile.mkdtemp(prefix="movie-api-load-"))
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until_ready()
        # Warm-up, not reported: every worker builds its recommender arrays and item model,
        # fills its connection pool and SQLAlchemy's statement cache.
        run_locust(USERS, out_dir, WARMUP_SECONDS)
        results = [(users, run_locust(users, out_dir)) for users in (USERS, USERS * 2)]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
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


if __name__ == "__main__":
    main()
