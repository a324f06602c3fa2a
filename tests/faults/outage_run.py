"""Traffic through a dependency outage, with the figures docs/reliability.md records.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/movies_faults \\
        .venv/bin/python -m tests.faults.outage_run [redis|database] [seconds]

Starts a redis-server on its own port and the API under gunicorn (2 workers x 4 threads),
then runs 8 clients (catalogue pages, movie details, watch-history writes) for `seconds`
(30 by default). In the middle third the dependency fails: `redis` kills redis-server and
starts it again; `database` freezes PostgreSQL's connections (a TCP proxy that stops
forwarding) and lets them go. Prints requests, 2xx, 5xx, the worst latency, and rows lost
(201s whose row is not in the database). The database given is migrated and written to.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from collections import Counter
from typing import Any

import requests
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import Movie, WatchHistory
from app.services.accounts import create_user
from config import normalise_database_url
from tests.faults.servers import ROOT, ApiServer, RedisServer
from tests.faults.tcp_proxy import TcpProxy

PASSWORD = "outage-run-password-1234"
CLIENTS = 8


def prepare_database(url: str) -> tuple[str, list[int]]:
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        email = f"outage-{int(time.time())}@example.com"
        create_user(email=email, username=email.split("@")[0], password=PASSWORD)
        first_id = 900_000_000 + secrets.randbelow(10_000_000) * 20
        for n in range(20):
            db.session.add(Movie(tmdb_id=first_id + n, title=f"Outage run movie {n}"))
        db.session.commit()
        ids = list(db.session.scalars(select(Movie.id).order_by(Movie.id.desc()).limit(20)))
        db.engine.dispose()
    return email, ids


def history_rows(url: str, user_email: str) -> int:
    from app.models import User

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == user_email))
        count = db.session.scalar(
            select(func.count()).select_from(WatchHistory).where(WatchHistory.user_id == user_id)
        )
        db.engine.dispose()
    return int(count or 0)


def run(scenario: str, seconds: float) -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database this run may write to")
    url = normalise_database_url(url)
    email, movie_ids = prepare_database(url)
    redis_server = RedisServer()
    redis_server.start()
    parsed = make_url(url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    api_url = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    api = ApiServer(
        {
            "DATABASE_URL": api_url,
            "REDIS_URL": redis_server.url,
            "WEB_CONCURRENCY": "2",
            "RATELIMIT_ANONYMOUS": "1000000/hour",
            "RATELIMIT_USER": "1000000/hour",
        }
    )
    api.start()
    token = requests.post(
        api.base_url + "/api/v1/auth/login/",
        json={"email": email, "password": PASSWORD},
        timeout=10,
    ).json()["tokens"]["access"]
    headers = {"Authorization": f"Bearer {token}"}
    statuses: Counter[int] = Counter()
    worst = 0.0
    worst_by_kind: Counter[str] = Counter()
    written = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(number: int) -> None:
        nonlocal worst, written
        i = number
        while time.monotonic() < stop_at:
            i += 1
            movie = movie_ids[i % len(movie_ids)]
            kind = i % 3
            started = time.monotonic()
            try:
                if kind == 0:
                    response = requests.get(api.base_url + "/api/v1/movies/movies/", timeout=30)
                elif kind == 1:
                    response = requests.get(
                        f"{api.base_url}/api/v1/movies/movies/{movie}/", timeout=30
                    )
                else:
                    response = requests.post(
                        api.base_url + "/api/v1/movies/history/",
                        json={"movie": movie},
                        headers=headers,
                        timeout=30,
                    )
                status = response.status_code
            except requests.RequestException:
                status = 0  # no answer at all
            elapsed = time.monotonic() - started
            with lock:
                statuses[status] += 1
                worst = max(worst, elapsed)
                name = ("page", "details", "write")[kind]
                worst_by_kind[name] = max(worst_by_kind[name], round(elapsed, 2))
                written += kind == 2 and status == 201

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(seconds / 3)
    if scenario == "redis":
        redis_server.kill()
    else:
        proxy.pause()
    time.sleep(seconds / 3)
    if scenario == "redis":
        redis_server.start()
    else:
        proxy.resume()
    for thread in threads:
        thread.join()
    if os.environ.get("OUTAGE_RUN_LOG"):
        with open(os.environ["OUTAGE_RUN_LOG"], "w") as log:
            log.write(api.output())
    api.stop()
    redis_server.kill()
    proxy.stop()
    rows = history_rows(url, email)
    return {
        "scenario": scenario,
        "seconds": seconds,
        "requests": sum(statuses.values()),
        "2xx": sum(n for s, n in statuses.items() if 200 <= s < 300),
        "5xx": sum(n for s, n in statuses.items() if s >= 500),
        "no answer": statuses[0],
        "statuses": dict(sorted(statuses.items())),
        "worst latency (s)": round(worst, 2),
        "worst by request (s)": dict(worst_by_kind),
        "writes answered 201": written,
        "rows lost": written - rows,
    }


if __name__ == "__main__":
    chosen = sys.argv[1] if len(sys.argv) > 1 else "redis"
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    for key, value in run(chosen, duration).items():
        print(f"{key}: {value}")
