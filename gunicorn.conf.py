"""gunicorn settings: `gunicorn --config gunicorn.conf.py wsgi:app`. Override with env vars.

Binds 0.0.0.0:$PORT when PORT is set (Render, Heroku), 127.0.0.1:8000 otherwise;
GUNICORN_BIND overrides both. A `.env` file in the working directory is read first
(config.py does it; variables already in the environment win).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Importing config.py reads .env, before the settings below. Not named `config`: gunicorn
# would take that name for its own setting.
import config as app_config


def default_bind() -> str:
    """GUNICORN_BIND, else every interface on $PORT (a platform's router), else localhost."""
    if os.environ.get("GUNICORN_BIND"):
        return os.environ["GUNICORN_BIND"]
    if os.environ.get("PORT"):
        return f"0.0.0.0:{int(os.environ['PORT'])}"
    return "127.0.0.1:8000"


def env_int(name: str, default: int) -> int:
    """An integer setting; unset or empty means the default."""
    return int(os.environ.get(name) or default)


bind = default_bind()
# Two workers per core plus one, capped: the API is I/O-bound (database, TMDb).
workers = env_int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9))
# Half of them at most wait on TMDb (TMDB_MAX_CONCURRENT_CALLS), so probes never queue.
threads = env_int("GUNICORN_THREADS", 4)
timeout = env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound, one at a time:
# `post_fork` staggers each worker's limit (`staggered_max_requests`) in place of gunicorn's
# random jitter, which lets two workers serving the same load restart together.
max_requests = 2000
max_requests_jitter = 0
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or "-"
errorlog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
# The proxies whose X-Forwarded-* gunicorn believes: none unless FORWARDED_ALLOW_IPS says
# (the app reads the same setting), so a plain-HTTP request cannot pass for HTTPS.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or ""

# Import the app once in the master and fork the workers from it: every worker answers at
# once instead of each spending seconds importing numpy, scipy and Flask-Admin on its own
# (docs/performance.md). A code change then needs a restart, not a HUP.
preload_app = True

# Prometheus: every worker writes its figures to one folder, /metrics adds them up. Set
# before the app (and prometheus_client) is imported; the client notices a fork by itself.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="movie-api-metrics-")
    # config.py read the environment when it was imported above: tell /metrics too.
    app_config.Config.PROMETHEUS_MULTIPROC_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]

# The workers serve; migrating is the release step's `flask db upgrade`. Without the `flask
# db` commands the app never imports Flask-Migrate and Alembic: 0.15 s less to boot and
# 10 MiB less in every process (docs/scaling.md).
app_config.Config.MIGRATION_COMMANDS = False


def _drop_server_banner() -> None:
    """No "Server: gunicorn" header: gunicorn has no setting for it, so its response's
    default headers are filtered."""
    from gunicorn.http import wsgi as gunicorn_wsgi

    default_headers = gunicorn_wsgi.Response.default_headers

    def without_server(self: Any) -> list[str]:
        return [line for line in default_headers(self) if not line.startswith("Server:")]

    gunicorn_wsgi.Response.default_headers = without_server


_drop_server_banner()


def on_starting(server: Any) -> None:
    app_config.check_worker_processes(
        server.cfg.workers, os.environ.get("APP_ENV", ""), os.environ.get("REDIS_URL", "")
    )


def _preloaded_app(server: Any) -> Any:
    """The API's Flask app the master loaded (None when preload_app is off, or when this
    config serves another app, like the load test's bare route)."""
    app = getattr(server.app, "callable", None)
    return app if "sqlalchemy" in getattr(app, "extensions", {}) else None


def when_ready(server: Any) -> None:
    """Warm the app once for all workers, then say in one line where to go."""
    host, _, port = bind.rpartition(":")
    base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    app = _preloaded_app(server)
    if app is None:
        server.log.info(f"Ready: API docs at {base_url}/api/docs/")
        return
    from app.services.startup import prepare_for_workers, ready_message, settle_memory_for_fork

    message = ready_message(app, base_url)
    # Loading the catalogue arrays makes tens of thousands of objects that all survive; with
    # the collector running, they set off full passes over every object of the app (0.2 to
    # 0.3 s of the master's CPU, docs/performance.md). settle_memory_for_fork collects once.
    gc.disable()
    try:
        prepare_for_workers(app)
    finally:
        gc.enable()
    settle_memory_for_fork()
    server.log.info(message)


def staggered_max_requests(limit: int, workers: int, age: int) -> int:
    """How many requests the worker spawned `age`-th (1 first) serves before it is recycled.

    The workers started together get limit, limit + limit/N, limit + 2*limit/N...: sharing
    the load, they reach their limits limit/N requests apart, and each replacement serves
    `limit` again, so they stay that far apart and never restart together (a worker
    replaced early, by a crash or a timeout, starts a phase of its own)."""
    if limit <= 0:
        return 0  # recycling off
    if age > workers:
        return limit
    return limit + (age - 1) * limit // workers


# A keep-alive connection is closed (`Connection: close`) after this many requests, as
# nginx's `keepalive_requests` does, so clients reconnect and spread over the workers. Without
# it, the connections of a recycled worker all move to the others and stay there: under
# steady load the new worker idled and the machine served about half what it can.
max_requests_per_connection = env_int("GUNICORN_MAX_REQUESTS_PER_CONNECTION", 25)


def pre_request(worker: Any, req: Any) -> None:
    worker.log.debug("%s %s", req.method, req.path)  # gunicorn's own pre_request
    if max_requests_per_connection and req.req_number >= max_requests_per_connection:
        req.must_close = True


def post_fork(server: Any, worker: Any) -> None:
    if server.cfg.max_requests > 0:
        worker.max_requests = staggered_max_requests(
            server.cfg.max_requests, server.cfg.workers, worker.age
        )
    app = _preloaded_app(server)
    if app is not None:
        from app.services.startup import forget_inherited_connections

        forget_inherited_connections(app)


def worker_exit(server: Any, worker: Any) -> None:
    """A worker that stops cleanly (recycled after max_requests, or a graceful shutdown:
    its requests are done) closes its database connections and leaves at once. Python's
    own teardown of the interpreter took 0.1-0.7 s here, and the master forks the
    replacement only once the old worker is gone (docs/performance.md). Any other exit
    keeps Python's way out: a boot error or a crash (and its exit code, which the master
    reads), or a stop with requests still running (past graceful_timeout, or a quick
    shutdown), which the interpreter's teardown lets finish."""
    leaving = sys.exc_info()[1]
    clean = isinstance(leaving, SystemExit) and leaving.code in (0, None)
    if not (clean and worker.booted and getattr(worker, "nr_conns", 0) == 0):
        return
    app = _preloaded_app(server)
    if app is not None:
        from app.services.startup import close_database_connections

        close_database_connections(app)
    logging.shutdown()  # flushes the log handlers that os._exit would drop
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
