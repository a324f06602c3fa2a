"""The recommendation benchmark (`make bench`): end-to-end refresh latency, SQL statements per
refresh, and `flask recommend --all`, on generated data with a fixed seed.

    python -m benchmarks.recommender                      # SQLite files under instance/
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python -m benchmarks.recommender

The database named by BENCH_DATABASE_URL is emptied and rebuilt with the migrations.
BENCH_MOVIES, BENCH_USERS, BENCH_RATINGS and BENCH_SAMPLE change the sizes (defaults:
10,000 movies, 500 users, 20,000 ratings, 100 timed refreshes). The same measurements run
again on a catalogue a quarter the size, to show the statement count does not depend on it.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any, cast

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import MetaData, event, insert, text

from app import create_app
from app.extensions import db
from app.models import Favorite, Genre, Movie, Rating, User, UserProfile, movie_genres, utcnow
from app.services import recommender
from app.services.tokens import issue_tokens
from config import INSTANCE_DIR, normalise_database_url

SEED = 20260601
ROOT = Path(__file__).resolve().parent.parent
REFRESH_URL = "/api/v1/recommendations/refresh/"

# TMDb's 19 movie genres.
GENRES = [
    (28, "Action"),
    (12, "Adventure"),
    (16, "Animation"),
    (35, "Comedy"),
    (80, "Crime"),
    (99, "Documentary"),
    (18, "Drama"),
    (10751, "Family"),
    (14, "Fantasy"),
    (36, "History"),
    (27, "Horror"),
    (10402, "Music"),
    (9648, "Mystery"),
    (10749, "Romance"),
    (878, "Science Fiction"),
    (10770, "TV Movie"),
    (53, "Thriller"),
    (10752, "War"),
    (37, "Western"),
]
WORDS = [
    *("love", "war", "space", "detective", "family", "heist", "ghost", "robot", "island"),
    *("city", "river", "king", "queen", "murder", "secret", "journey", "dream", "storm"),
    *("ocean", "desert", "prison", "school", "band", "train", "future"),
]


@dataclass(frozen=True)
class Sizes:
    movies: int
    users: int
    ratings: int
    sample: int


@dataclass(frozen=True)
class RefreshFigures:
    movies: int
    median_ms: float
    p95_ms: float
    cpu_median_ms: float  # this process's CPU time: the part the machine's load cannot inflate
    statements: list[int]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value else default


def database_url(label: str) -> str:
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if url:
        return normalise_database_url(url)
    return f"sqlite:///{INSTANCE_DIR / f'bench-{label}.db'}"


def make_app(url: str) -> Flask:
    return create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=url,
        RATELIMIT_ENABLED=False,
        REDIS_URL="",
        LOG_LEVEL="WARNING",
        # Only signs the benchmark's own tokens; long enough that PyJWT does not warn.
        JWT_SECRET_KEY="benchmark-only-jwt-secret-key-0123456789",
    )


def reset_database(app: Flask) -> None:
    """Drop everything and migrate from nothing to head."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
        else:
            with engine.begin() as connection:
                reflected = MetaData()
                reflected.reflect(bind=connection)
                reflected.drop_all(bind=connection)
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(directory=str(ROOT / "migrations"))


def chunks(rows: list[dict[str, Any]], size: int = 2000) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def bulk_insert(model: Any, rows: list[dict[str, Any]]) -> None:
    for chunk in chunks(rows):
        db.session.execute(insert(model), chunk)


def generate_data(app: Flask, sizes: Sizes) -> dict[str, int]:
    """A catalogue, users with tastes (2-3 favourite genres each), ratings and favourites."""
    rng = random.Random(SEED)
    today = date.today()
    now = utcnow()
    with app.app_context():
        bulk_insert(Genre, [{"tmdb_id": tmdb_id, "name": name} for tmdb_id, name in GENRES])
        movies = []
        links = []
        movie_genre_positions: list[list[int]] = []
        for n in range(1, sizes.movies + 1):
            positions = rng.sample(range(len(GENRES)), rng.choice((1, 2, 2, 3)))
            movie_genre_positions.append(positions)
            movies.append(
                {
                    "id": n,
                    "tmdb_id": n,
                    "title": f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {n}",
                    "overview": " ".join(rng.choice(WORDS) for _ in range(12)),
                    "release_date": today - timedelta(days=rng.randint(0, 365 * 40)),
                    "vote_average": round(min(10.0, max(1.0, rng.gauss(6.3, 1.1))), 1),
                    "vote_count": int(rng.lognormvariate(5.0, 1.6)),
                    "popularity": round(rng.lognormvariate(2.0, 1.1), 3),
                    "original_language": "en",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            links.extend({"movie_id": n, "genre_id": p + 1} for p in positions)
        bulk_insert(Movie, movies)
        for chunk in chunks(links):
            db.session.execute(insert(movie_genres), chunk)

        by_genre: dict[int, list[int]] = {p: [] for p in range(len(GENRES))}
        for index, positions in enumerate(movie_genre_positions):
            for p in positions:
                by_genre[p].append(index + 1)
        # Cumulative once: rng.choices(weights=...) would add them up again on every call
        # (the same draws either way).
        cumulative = list(accumulate(cast(float, movie["popularity"]) for movie in movies))
        users, profiles, ratings, favorites = [], [], [], []
        per_user = sizes.ratings // sizes.users
        for u in range(1, sizes.users + 1):
            tastes = rng.sample(range(len(GENRES)), rng.choice((2, 3)))
            users.append(
                {
                    "id": u,
                    "email": f"bench{u}@example.com",
                    "username": f"bench{u}",
                    "password_hash": "",
                    "date_joined": now,
                }
            )
            profiles.append(
                {
                    "user_id": u,
                    "favorite_genres": [GENRES[p][0] for p in tastes[:1]],
                    "created_at": now,
                    "updated_at": now,
                }
            )
            rated: set[int] = set()
            count = max(1, int(rng.gauss(per_user, per_user / 3)))
            while len(rated) < min(count, sizes.movies):
                if rng.random() < 0.7:  # mostly within their genres, popular films first
                    pool = by_genre[rng.choice(tastes)]
                    movie_id = pool[min(len(pool) - 1, int(rng.expovariate(1 / 60)))]
                else:
                    movie_id = rng.choices(range(1, sizes.movies + 1), cum_weights=cumulative)[0]
                rated.add(movie_id)
            for movie_id in rated:
                in_taste = bool(set(movie_genre_positions[movie_id - 1]) & set(tastes))
                score = rng.gauss(7.5 if in_taste else 5.0, 1.8)
                rating = max(1, min(10, round(score)))
                ratings.append(
                    {
                        "user_id": u,
                        "movie_id": movie_id,
                        "rating": rating,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if rating >= 9 and rng.random() < 0.5:
                    favorites.append(
                        {"user_id": u, "movie_id": movie_id, "created_at": now, "updated_at": now}
                    )
        bulk_insert(User, users)
        bulk_insert(UserProfile, profiles)
        bulk_insert(Rating, ratings)
        bulk_insert(Favorite, favorites)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # explicit ids: move the sequences on
            for table in ("users", "movies", "genres", "user_profiles", "ratings", "favorites"):
                db.session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                )
            db.session.commit()
            # The planner's statistics, as autovacuum gathers them some time after a bulk
            # load (or never, where it is off): without them PostgreSQL took the fresh tables
            # for nearly empty and ran the stored list's read in 18.9 ms instead of 1.6.
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE"
                )
    return {
        "movies": len(movies),
        "users": len(users),
        "ratings": len(ratings),
        "favourites": len(favorites),
    }


@contextmanager
def counting_statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements this thread sends (not those of a background model rebuild)."""
    statements: list[str] = []
    thread = threading.get_ident()

    def record(*args: Any) -> None:
        if threading.get_ident() == thread:
            statements.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def measure_refreshes(app: Flask, sizes: Sizes) -> RefreshFigures:
    """POST refresh/ through the test client for a fixed sample of users."""
    rng = random.Random(SEED + 1)
    sample = rng.sample(range(1, sizes.users + 1), min(sizes.sample, sizes.users))
    with app.app_context(), app.test_request_context():
        headers = {}
        for user_id in sample:
            user = db.session.get(User, user_id)
            assert user is not None
            headers[user_id] = {"Authorization": f"Bearer {issue_tokens(user)['access']}"}
    client = app.test_client()
    for user_id in sample[:5]:  # warm-up: the engine loads and caches the catalogue once
        response = client.post(REFRESH_URL, headers=headers[user_id])
        assert response.status_code == 200, response.get_data(as_text=True)
    durations: list[float] = []
    cpu: list[float] = []
    statements: list[int] = []
    for user_id in sample:
        with counting_statements(app) as executed:
            start, cpu_start = time.perf_counter(), time.process_time()
            response = client.post(REFRESH_URL, headers=headers[user_id])
            durations.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - cpu_start) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert len(response.get_json()["recommendations"]) == 20
        statements.append(len(executed))
    return RefreshFigures(
        movies=sizes.movies,
        median_ms=statistics.median(durations),
        p95_ms=percentile(durations, 0.95),
        cpu_median_ms=statistics.median(cpu),
        statements=statements,
    )


def measure_recommend_all(app: Flask, users: int) -> float:
    """`flask recommend --all --format jsonl`, in seconds."""
    runner = app.test_cli_runner()
    start = time.perf_counter()
    result = runner.invoke(args=["recommend", "--all", "--format", "jsonl"])
    seconds = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"flask recommend --all failed:\n{result.output}")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == users, f"{len(lines)} users recommended, {users} expected"
    return seconds


def run(label: str, sizes: Sizes, *, recommend_all: bool) -> tuple[RefreshFigures, float | None]:
    url = database_url(label)
    app = make_app(url)
    print(
        f"\n== {sizes.movies:,} movies, {sizes.users} users ({app.config['SQLALCHEMY_DATABASE_URI'].split('://')[0]})"
    )
    start = time.perf_counter()
    reset_database(app)
    counts = generate_data(app, sizes)
    print(
        f"data: {counts['movies']:,} movies, {counts['users']} users, {counts['ratings']:,} "
        f"ratings, {counts['favourites']:,} favourites ({time.perf_counter() - start:.1f} s)"
    )
    with app.app_context():
        version = recommender.train_model_version()
        print(
            f"item model version {version.id}: {version.items:,} items, {version.users} users, "
            f"{version.interactions:,} interactions, trained in {version.training_seconds:.2f} s "
            f"(with validation), {version.weights_bytes / 1024:.0f} KiB"
        )
    figures = measure_refreshes(app, sizes)
    print(
        f"refresh (end to end, {len(figures.statements)} users): "
        f"median {figures.median_ms:.1f} ms, p95 {figures.p95_ms:.1f} ms "
        f"(CPU of this process: median {figures.cpu_median_ms:.1f} ms); "
        "SQL statements per refresh: "
        f"min {min(figures.statements)}, median {statistics.median(figures.statements):g}, "
        f"max {max(figures.statements)}"
    )
    seconds = None
    if recommend_all:
        seconds = measure_recommend_all(app, sizes.users)
        print(f"flask recommend --all ({sizes.users} users): {seconds:.1f} s")
    with app.app_context():
        db.engine.dispose()
    return figures, seconds


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (1, 5, 15 min)")
    sizes = Sizes(
        movies=env_int("BENCH_MOVIES", 10_000),
        users=env_int("BENCH_USERS", 500),
        ratings=env_int("BENCH_RATINGS", 20_000),
        sample=env_int("BENCH_SAMPLE", 100),
    )
    full, all_seconds = run("full", sizes, recommend_all=True)
    quarter = Sizes(
        movies=sizes.movies // 4, users=sizes.users, ratings=sizes.ratings, sample=sizes.sample
    )
    small, _ = run("quarter", quarter, recommend_all=False)
    same = set(full.statements) == set(small.statements)
    print(f"\n== summary (load average now {load_average()})")
    print(f"refresh median {full.median_ms:.1f} ms (target < 50 ms), p95 {full.p95_ms:.1f} ms")
    print(
        f"SQL statements per refresh: {sorted(set(full.statements))} with {full.movies:,} movies,"
        f" {sorted(set(small.statements))} with {small.movies:,}: "
        + ("independent of the catalogue size" if same else "DIFFERENT")
    )
    print(f"flask recommend --all: {all_seconds:.1f} s (target < 30 s)")
    met = full.median_ms < 50 and all_seconds is not None and all_seconds < 30 and same
    print("targets met" if met else "TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
