"""Request ids, JSON logs and the Prometheus endpoint."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from flask import Flask

from app.observability import build_log_handler
from tests.factories import auth_headers, make_user


def test_every_response_carries_a_fresh_request_id(client: Any) -> None:
    first = client.get("/health/live/").headers["X-Request-ID"]
    second = client.get("/health/live/").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_sane_client_request_id_is_echoed_and_a_hostile_one_replaced(client: Any) -> None:
    echoed = client.get("/health/live/", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    hostile = client.get("/health/live/", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert hostile.headers["X-Request-ID"].isalnum()
    too_long = client.get("/health/live/", headers={"X-Request-ID": "a" * 65})
    assert too_long.headers["X-Request-ID"] != "a" * 65


def test_log_lines_are_json_with_the_request_id(app: Flask) -> None:
    stream = io.StringIO()
    logger = logging.getLogger("app.test.json")
    logger.addHandler(build_log_handler(stream))
    logger.propagate = False
    with app.test_request_context(headers={"X-Request-ID": "trace-me"}):
        app.preprocess_request()
        logger.warning("something worth knowing")
    logger.warning("outside any request")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "something worth knowing"
    assert first["request_id"] == "trace-me"
    assert first["level"] == "WARNING"
    assert second["request_id"] == "-"


def test_metrics_count_requests_by_route_and_status(client: Any) -> None:
    client.get("/health/live/")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{method="GET",route="/health/live/",status="200"}' in body
    assert "http_request_duration_seconds_bucket" in body
    assert "recommendation_generation_seconds" in body


def test_recommendation_generation_time_is_measured(app: Flask, client: Any) -> None:
    headers = auth_headers(app, make_user(app))
    before = generation_count(client)
    assert client.post("/api/v1/recommendations/refresh/", headers=headers).status_code == 200
    assert generation_count(client) == before + 1


def generation_count(client: Any) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith("recommendation_generation_seconds_count"):
            return float(line.split()[-1])
    raise AssertionError("recommendation_generation_seconds_count is missing")
