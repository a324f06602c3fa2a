"""Where one hot request's time goes, in-process: cProfile over many warm requests.

Run `python -m benchmarks.requests` first (it builds the 10,000-movie database this reuses),
then, with the same BENCH_DATABASE_URL and a Redis for the page cache:

    BENCH_REDIS_URL=redis://127.0.0.1:6379/13 python -m benchmarks.profile_requests

Prints, for the catalogue list (a page cache hit) and the stored recommendations, the
functions of the app, flask-smorest, marshmallow and SQLAlchemy's session by cumulative
time. cProfile roughly doubles the time of each call: read the shares, not the totals.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys

from app.extensions import db
from app.models import User
from app.services.tokens import issue_tokens
from benchmarks.recommender import database_url, env_int
from benchmarks.requests import make_requests_app

WARMUP = 30
SHOWN = r"app/|flask_smorest|flask_limiter|prometheus|marshmallow|sqlalchemy/orm/session"


def main() -> int:
    count = env_int("BENCH_REQUESTS", 300)
    app = make_requests_app(database_url("requests"))
    with app.app_context(), app.test_request_context():
        user = db.session.get(User, 1)
        if user is None:
            print("No data: run `python -m benchmarks.requests` first.")
            return 1
        token = {"Authorization": f"Bearer {issue_tokens(user)['access']}"}
    client = app.test_client()
    cache = "page cache on" if os.environ.get("BENCH_REDIS_URL") else "page cache off"
    for url, headers in [
        ("/api/v1/movies/movies/?page=2", {}),
        ("/api/v1/recommendations/", token),
    ]:
        for _ in range(WARMUP):
            assert client.get(url, headers=headers).status_code == 200
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(count):
            client.get(url, headers=headers)
        profile.disable()
        print(f"===== GET {url} x {count} ({cache})")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(SHOWN, 30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
