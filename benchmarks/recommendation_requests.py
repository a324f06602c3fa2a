"""In-process cost of the recommendation requests users make most: the list read from a
fresh stored batch, a regeneration (POST refresh/, and the list after tastes changed), and
a filtered list. Median milliseconds and SQL statements per request, through the test
client, on generated data with a fixed seed (the data of benchmarks.recommender).

    python -m benchmarks.recommendation_requests            # SQLite file under instance/
    BENCH_DATABASE_URL=postgresql://... python -m benchmarks.recommendation_requests

BENCH_MOVIES, BENCH_USERS, BENCH_RATINGS and BENCH_SAMPLE change the sizes (defaults: 2,000
movies, 60 users, 3,000 ratings, 30 users measured).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from app.extensions import db
from app.models import User, UserProfile
from app.services import recommender
from app.services.tokens import issue_tokens
from benchmarks.recommender import (
    Sizes,
    counting_statements,
    database_url,
    env_int,
    generate_data,
    make_app,
    reset_database,
)

LIST_URL = "/api/v1/recommendations/"
REFRESH_URL = "/api/v1/recommendations/refresh/"
FILTERED = {"genre": [28, 35], "year_min": 2000}


def mark_stale(app: Flask, user_id: int) -> None:
    with app.app_context():
        db.session.execute(
            update(UserProfile)
            .where(UserProfile.user_id == user_id)
            .values(recommendations_stale=True)
        )
        db.session.commit()


def measure(
    app: Flask, users: list[int], request: Callable[[int], Any], before: Callable[[int], None]
) -> tuple[float, float, float]:
    """Medians of wall ms, CPU ms (this process: what the machine's load cannot inflate) and
    statements of `request(user)` after `before(user)`, once per user."""
    durations: list[float] = []
    cpu: list[float] = []
    counts: list[int] = []
    for user_id in users:
        before(user_id)
        with counting_statements(app) as executed:
            start, cpu_start = time.perf_counter(), time.process_time()
            response = request(user_id)
            durations.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - cpu_start) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
        counts.append(len(executed))
    return statistics.median(durations), statistics.median(cpu), statistics.median(counts)


def main() -> int:
    sizes = Sizes(
        movies=env_int("BENCH_MOVIES", 2000),
        users=env_int("BENCH_USERS", 60),
        ratings=env_int("BENCH_RATINGS", 3000),
        sample=env_int("BENCH_SAMPLE", 30),
    )
    app = make_app(database_url("requests"))
    reset_database(app)
    generate_data(app, sizes)
    with app.app_context():
        recommender.rebuild_item_model()
    users = list(range(1, sizes.sample + 1))
    with app.app_context(), app.test_request_context():
        headers: dict[int, dict[str, str]] = {}
        for user_id in users:
            user = db.session.get(User, user_id)
            assert user is not None
            headers[user_id] = {"Authorization": f"Bearer {issue_tokens(user)['access']}"}
    client: FlaskClient = app.test_client()
    for user_id in users:  # every user has a batch; the engine's caches are loaded
        client.post(REFRESH_URL, headers=headers[user_id])
        client.post(REFRESH_URL, headers=headers[user_id])

    def nothing(_: int) -> None:
        return None

    def get_list(user_id: int) -> Any:
        return client.get(LIST_URL, headers=headers[user_id])

    figures = {
        "GET list (fresh batch)": measure(app, users, get_list, nothing),
        "POST refresh/ (regeneration)": measure(
            app, users, lambda u: client.post(REFRESH_URL, headers=headers[u]), nothing
        ),
        "GET list after tastes changed (regeneration)": measure(
            app, users, get_list, lambda u: mark_stale(app, u)
        ),
    }
    probe = client.get(LIST_URL, query_string=FILTERED, headers=headers[users[0]])
    if probe.status_code == 200 and "matched" in probe.get_json():
        figures[f"GET list filtered {FILTERED}"] = measure(
            app,
            users,
            lambda u: client.get(LIST_URL, query_string=FILTERED, headers=headers[u]),
            nothing,
        )
    print(f"{sizes.movies:,} movies, {sizes.users} users, {len(users)} measured")
    for name, (milliseconds, cpu, statements) in figures.items():
        print(f"{name}: median {milliseconds:.1f} ms (CPU {cpu:.1f} ms), {statements:g} statements")
    with app.app_context():
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
