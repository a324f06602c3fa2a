"""Request ids, structured JSON logs and Prometheus metrics.

Every request gets an id (the client's X-Request-ID when it is a sane token, a new one
otherwise) that is echoed in the response and stamped on every log line written while
the request runs. /metrics exposes request counts and latencies by route and status; under
gunicorn set PROMETHEUS_MULTIPROC_DIR so the figures of all workers are added up.

Labels are bounded whatever clients send: a method outside HTTP's usual ones counts as
"other" and a path no route matches as "unmatched". /metrics asks for
`Authorization: Bearer <METRICS_TOKEN>` when that is set; in production without it the
endpoint is not served at all (404), in development and tests it is open.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from typing import TextIO

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from pythonjsonlogger.json import JsonFormatter

from app.errors import problem_response

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "unmatched"

REQUEST_COUNT = Counter(
    "http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECOMMENDATION_SECONDS = Histogram(
    "recommendation_generation_seconds",
    "Time to generate and store one user's recommendations",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


class RequestIdFilter(logging.Filter):
    """Adds the current request's id (or "-") to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def build_log_handler(stream: TextIO | None = None, *, debug: bool = False) -> logging.Handler:
    """JSON lines (plain text in debug mode), each with the request id."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    if debug:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    else:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"levelname": "level", "asctime": "time"},
            )
        )
    return handler


def configure_logging(app: Flask) -> None:
    """Log JSON lines to stderr, replacing our handler if the app is created again."""
    handler = build_log_handler(debug=app.debug)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_movie_api_handler", False):
            root.removeHandler(existing)
    handler._movie_api_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])


def register_request_tracking(app: Flask) -> None:
    @app.before_request
    def start_request() -> None:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def finish_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        started = g.get("request_started")
        method, route = metric_labels()
        if started is not None:
            REQUEST_LATENCY.labels(method, route).observe(time.perf_counter() - started)
        REQUEST_COUNT.labels(method, route, str(response.status_code)).inc()
        return response


def metric_labels() -> tuple[str, str]:
    """The request's method and route template, each from a bounded set."""
    method = request.method if request.method in KNOWN_METHODS else OTHER_METHOD
    # A method no route allows still matches a rule (405): count it as unmatched too.
    rule = request.url_rule
    if rule is None or (rule.methods is not None and request.method not in rule.methods):
        return method, UNMATCHED_ROUTE
    return method, rule.rule


def metrics_registry(multiprocess_dir: str) -> CollectorRegistry:
    """All workers' figures under gunicorn (multiprocess mode), this process's otherwise."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
        return registry
    return REGISTRY


def register_metrics_endpoint(app: Flask) -> None:
    token = app.config["METRICS_TOKEN"]
    if not token and app.config["APP_ENV"] == "production":
        return  # never public in production: set METRICS_TOKEN to serve it

    def metrics() -> Response:
        if token and not _bearer_matches(token):
            return problem_response(
                401,
                "Send 'Authorization: Bearer <METRICS_TOKEN>' to read the metrics.",
                code="not_authenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )
        registry = metrics_registry(app.config["PROMETHEUS_MULTIPROC_DIR"])
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics)


def _bearer_matches(token: str) -> bool:
    supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(supplied.encode(), token.encode())
