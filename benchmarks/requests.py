"""The cost of one request on the hot paths, in-process (`make bench-requests`).

For each hot read (the catalogue list, a movie's detail, the stored recommendations,
similar movies, the health probes): the SQL statements it sends and its CPU and wall time,
warm (after WARMUP requests), median of BENCH_REQUESTS requests through the Flask test
client; then what serialising one list page costs, with marshmallow (the documented
interface, generic), compiled (what the API serves, `app/blueprints/compiled_dump.py`) and
with a plain dict comprehension, as a share of the page's request.

    python -m benchmarks.requests                      # SQLite file under instance/
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python -m benchmarks.requests

Uses the data of `benchmarks.recommender` (10,000 movies by default, BENCH_MOVIES). Without
BENCH_REDIS_URL the page cache is off, so the list is measured uncached, its worst case;
with it (e.g. redis://127.0.0.1:6379/8, flushed first), the list is a page cache hit, as in
production.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

import marshmallow as ma
import redis
from flask import Flask

from app import create_app
from app.blueprints.movies.routes import MoviePageSchema
from app.blueprints.movies.schemas import image_url
from app.extensions import db
from app.models import User
from app.services import catalogue, recommender
from app.services.catalogue import MovieFilters
from app.services.catalogue_cache import movie_data
from app.services.recommendation.batches import store_recommendations
from app.services.tokens import issue_tokens
from benchmarks.recommender import (
    Sizes,
    counting_statements,
    database_url,
    env_int,
    generate_data,
    load_average,
    make_app,
    reset_database,
)

WARMUP = 20


def endpoints() -> list[tuple[str, str, bool]]:
    """(label, URL, with the user's token)."""
    return [
        ("movie list, 20 a page", "/api/v1/movies/movies/?page=2", False),
        ("movie list, with a token", "/api/v1/movies/movies/?page=2", True),
        ("movie detail", "/api/v1/movies/movies/42/", False),
        ("movie detail, with a token", "/api/v1/movies/movies/42/", True),
        ("stored recommendations", "/api/v1/recommendations/", True),
        ("similar movies", "/api/v1/recommendations/similar/42/", False),
        ("health, liveness", "/health/live/", False),
        ("health", "/health/", False),
    ]


def measure(app: Flask, url: str, headers: dict[str, str], count: int) -> dict[str, float]:
    client = app.test_client()
    for _ in range(WARMUP):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
    wall: list[float] = []
    cpu: list[float] = []
    statements: list[int] = []
    for _ in range(count):
        with counting_statements(app) as executed:
            start, cpu_start = time.perf_counter(), time.thread_time()
            response = client.get(url, headers=headers)
            cpu.append((time.thread_time() - cpu_start) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        statements.append(len(executed))
    return {
        "statements": statistics.median(statements),
        "statements_max": max(statements),
        "cpu_ms": statistics.median(cpu),
        "wall_ms": statistics.median(wall),
    }


def serialisation_share(app: Flask, count: int) -> dict[str, float]:
    """CPU ms to serialise one 20-movie list page: marshmallow's page schema, and a plain
    comprehension building the same JSON-ready dicts (the alternative measured)."""
    with app.test_request_context("/api/v1/movies/movies/"):
        listed = catalogue.list_movies(MovieFilters(), 2, 20)
        movies = [movie_data(movie) for movie in listed.items]
        body = {"count": listed.count, "next": None, "previous": None, "results": movies}
        schema = MoviePageSchema()

        def by_hand() -> dict[str, Any]:
            """What the schema sends, built by a comprehension: the same JSON-ready values."""
            return {
                **body,
                "results": [
                    {
                        "id": movie["id"],
                        "tmdb_id": movie["tmdb_id"],
                        "title": movie["title"],
                        "poster_path": movie["poster_path"],
                        "poster_url": image_url(movie["poster_path"]),
                        "release_date": movie["release_date"] and movie["release_date"].isoformat(),
                        "vote_average": movie["vote_average"],
                        "vote_count": movie["vote_count"],
                        "popularity": movie["popularity"],
                        "original_language": movie["original_language"],
                        "genres": [
                            {"id": g["id"], "tmdb_id": g["tmdb_id"], "name": g["name"]}
                            for g in movie["genres"]
                        ],
                    }
                    for movie in movies
                ],
            }

        # The same body three ways, or the comparison is moot.
        assert by_hand() == schema.dump(body) == ma.Schema.dump(schema, body)
        figures = {}
        dumps = (
            ("marshmallow", lambda: ma.Schema.dump(schema, body)),
            ("compiled", lambda: schema.dump(body)),  # what the API serves (compiled_dump)
            ("by hand", by_hand),
        )
        for label, dump in dumps:
            for _ in range(WARMUP):
                dump()
            samples = []
            for _ in range(count):
                start = time.thread_time()
                dump()
                samples.append((time.thread_time() - start) * 1000)
            figures[label] = statistics.median(samples)
    return figures


def make_requests_app(url: str) -> Flask:
    """The benchmark's app; on Redis (cache and page cache) when BENCH_REDIS_URL is set."""
    redis_url = os.environ.get("BENCH_REDIS_URL", "")
    app = make_app(url)
    if not redis_url:
        return app
    redis.Redis.from_url(redis_url).flushdb()
    return create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=url,
        RATELIMIT_ENABLED=False,
        REDIS_URL=redis_url,
        LOG_LEVEL="WARNING",
        JWT_SECRET_KEY=app.config["JWT_SECRET_KEY"],
    )


def main() -> int:
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (1, 5, 15 min)")
    count = env_int("BENCH_REQUESTS", 200)
    sizes = Sizes(
        movies=env_int("BENCH_MOVIES", 10_000),
        users=env_int("BENCH_USERS", 500),
        ratings=env_int("BENCH_RATINGS", 20_000),
        sample=1,
    )
    app = make_requests_app(database_url("requests"))
    reset_database(app)
    generate_data(app, sizes)
    with app.app_context(), app.test_request_context():
        recommender.train_model_version()
        store_recommendations(1)
        user = db.session.get(User, 1)
        assert user is not None
        token = {"Authorization": f"Bearer {issue_tokens(user)['access']}"}
    dialect = app.config["SQLALCHEMY_DATABASE_URI"].split("://")[0]
    cache = "Redis" if app.config["REDIS_URL"] else "no Redis: page cache off"
    print(f"{sizes.movies:,} movies ({dialect}, {cache}), median of {count} warm requests each\n")
    print(f"{'endpoint':<28} {'statements':>10} {'CPU ms':>7} {'wall ms':>8}")
    results = {}
    for label, url, with_token in endpoints():
        figures = measure(app, url, token if with_token else {}, count)
        results[label] = figures
        print(
            f"{label:<28} {figures['statements']:>10g} {figures['cpu_ms']:>7.2f} "
            f"{figures['wall_ms']:>8.2f}"
        )
    shares = serialisation_share(app, count)
    page_cpu = results["movie list, 20 a page"]["cpu_ms"]
    print("\nserialising one 20-movie list page (CPU ms, median):")
    for label, ms in shares.items():
        print(f"  {label:<12} {ms:6.2f} ms = {100 * ms / page_cpu:4.1f}% of the page's request")
    with app.app_context():
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
