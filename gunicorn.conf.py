"""gunicorn settings: `gunicorn --config gunicorn.conf.py wsgi:app`. Override with env vars."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Two workers per core plus one, capped: the API is I/O-bound (database, TMDb).
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9)))
# Half of them at most wait on TMDb (TMDB_MAX_CONCURRENT_CALLS), so probes never queue.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = 2000
max_requests_jitter = 200
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The proxies whose X-Forwarded-* gunicorn believes: none unless FORWARDED_ALLOW_IPS says
# (the app reads the same setting), so a plain-HTTP request cannot pass for HTTPS.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")

# Prometheus: every worker writes its figures to one folder, /metrics adds them up.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="movie-api-metrics-")


def _drop_server_banner():
    """No "Server: gunicorn" header: gunicorn has no setting for it, so its response's
    default headers are filtered."""
    from gunicorn.http import wsgi as gunicorn_wsgi

    default_headers = gunicorn_wsgi.Response.default_headers

    def without_server(self):
        return [line for line in default_headers(self) if not line.startswith("Server:")]

    gunicorn_wsgi.Response.default_headers = without_server


_drop_server_banner()


def on_starting(server):
    from config import check_worker_processes

    check_worker_processes(
        server.cfg.workers, os.environ.get("APP_ENV", ""), os.environ.get("REDIS_URL", "")
    )


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
