"""What impression logging costs a GET of recommendations (`make bench`): the same requests,
in-process, with RECOMMENDATION_IMPRESSIONS_ENABLED on and off, interleaved, median of many.

    python -m benchmarks.impressions                      # SQLite file under instance/
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python -m benchmarks.impressions

The database named by BENCH_DATABASE_URL is emptied and rebuilt with the migrations.
BENCH_IMPRESSION_SAMPLE (default 300) requests are timed in each mode, on 2,000 movies, 50
users with stored batches of 20 and BENCH_IMPRESSION_ROWS (default 100,000) impressions
already logged, so the INSERT updates indexes of a table that is not empty.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import event, insert, select

from app.extensions import db
from app.models import Movie, RecommendationImpression, User, UserProfile, utcnow
from app.services.recommendation.batches import store_recommendations
from app.services.tokens import issue_tokens
from benchmarks.recommender import database_url, env_int, load_average, make_app, reset_database

SEED = 20261203
URL = "/api/v1/recommendations/?limit=20&page_size=20"
MOVIES, USERS = 2_000, 50


def seed(app: Flask, existing_impressions: int) -> list[dict[str, str]]:
    """Movies, users with a stored batch each, old impressions; each user's auth header."""
    rng = random.Random(SEED)
    with app.app_context():
        db.session.execute(
            insert(Movie),
            [
                {
                    "tmdb_id": n + 1,
                    "title": f"Bench film {n}",
                    "release_date": date(2000, 1, 1) + timedelta(days=rng.randrange(9000)),
                    "vote_average": round(rng.uniform(4, 9), 1),
                    "vote_count": rng.randrange(10, 5000),
                    "popularity": rng.uniform(1, 500),
                    "original_language": "en",
                }
                for n in range(MOVIES)
            ],
        )
        db.session.execute(
            insert(User),
            [
                {
                    "email": f"bench{n}@example.com",
                    "username": f"bench{n}",
                    "username_skeleton": f"bench{n}",
                    "password_hash": "!",
                }
                for n in range(USERS)
            ],
        )
        db.session.commit()
        users = list(db.session.scalars(select(User).order_by(User.id)))
        db.session.execute(insert(UserProfile), [{"user_id": user.id} for user in users])
        db.session.commit()
        for user in users:
            store_recommendations(user.id, 20)
        movie_ids = list(db.session.scalars(select(Movie.id)))
        now = utcnow()
        rows = [
            {
                "user_id": rng.choice(users).id,
                "movie_id": rng.choice(movie_ids),
                "rank": rng.randrange(1, 21),
                "recommendation_type": "hybrid",
                "model_version": "bench@1",
                "cold_start": False,
                "shown_at": now - timedelta(seconds=rng.randrange(30 * 86400)),
            }
            for _ in range(existing_impressions)
        ]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(RecommendationImpression), rows[start : start + 5000])
        db.session.commit()
        with app.test_request_context():
            return [{"Authorization": f"Bearer {issue_tokens(user)['access']}"} for user in users]


def measure(app: Flask, headers: list[dict[str, str]], sample: int) -> dict[bool, list[float]]:
    """Seconds per GET with logging on (True) and off (False), alternating request by request
    so that both modes see the same load on the machine."""
    client = app.test_client()
    rng = random.Random(SEED)
    timings: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(20):  # warm the caches and the item model
        client.get(URL, headers=rng.choice(headers))
    for _ in range(sample):
        for enabled in (True, False):
            app.config["RECOMMENDATION_IMPRESSIONS_ENABLED"] = enabled
            user_headers = rng.choice(headers)
            started = time.perf_counter()
            response = client.get(URL, headers=user_headers)
            timings[enabled].append(time.perf_counter() - started)
            assert response.status_code == 200, response.get_data(as_text=True)
    app.config["RECOMMENDATION_IMPRESSIONS_ENABLED"] = True
    return timings


def statements_per_get(app: Flask, headers: dict[str, str], enabled: bool) -> int:
    app.config["RECOMMENDATION_IMPRESSIONS_ENABLED"] = enabled
    with app.app_context():
        engine = db.engine
    statements: list[Any] = []

    def record(*_args: Any) -> None:
        statements.append(1)

    event.listen(engine, "before_cursor_execute", record)
    try:
        app.test_client().get(URL, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    app.config["RECOMMENDATION_IMPRESSIONS_ENABLED"] = True
    return len(statements)


def main() -> int:
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (1, 5, 15 min)")
    sample = env_int("BENCH_IMPRESSION_SAMPLE", 300)
    existing = env_int("BENCH_IMPRESSION_ROWS", 100_000)
    app = make_app(database_url("impressions"))
    reset_database(app)
    headers = seed(app, existing)
    timings = measure(app, headers, sample)
    on, off = (statistics.median(timings[mode]) * 1000 for mode in (True, False))
    backend = app.config["SQLALCHEMY_DATABASE_URI"].split("://")[0]
    print(f"== GET {URL} ({backend}, {existing:,} impressions logged before, {sample} each)")
    print(
        f"logging on:  median {on:.2f} ms, {statements_per_get(app, headers[0], True)} statements"
    )
    print(
        f"logging off: median {off:.2f} ms, {statements_per_get(app, headers[0], False)} statements"
    )
    print(f"cost of logging: {on - off:+.2f} ms ({(on - off) / off:+.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
