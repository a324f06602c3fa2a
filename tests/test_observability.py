"""Request ids, JSON logs and the Prometheus endpoint."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from flask import Flask

from app import create_app
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


def test_unknown_methods_and_paths_share_one_bounded_series(client: Any) -> None:
    for n in range(5):
        client.open("/api/v1/movies/movies/", method=f"Q{n}23")
        client.get(f"/no/such/path/{n}")
    body = client.get("/metrics").get_data(as_text=True)
    assert "Q023" not in body and "Q423" not in body
    assert "/no/such/path" not in body
    assert 'method="other",route="unmatched",status="405"' in body
    assert 'method="GET",route="unmatched",status="404"' in body


def test_metrics_need_the_configured_bearer_token(fake_tmdb: Any) -> None:
    app = create_app("testing", METRICS_TOKEN="scrape-secret", TMDB_BASE_URL=fake_tmdb.base_url)
    client = app.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "not_authenticated"
    wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert allowed.status_code == 200
    assert "http_requests_total" in allowed.get_data(as_text=True)


def test_production_without_a_metrics_token_does_not_serve_metrics(
    monkeypatch: Any, fake_tmdb: Any
) -> None:
    monkeypatch.setattr("config.ProductionConfig.SECRET_KEY", "s" * 40)
    monkeypatch.setattr("config.ProductionConfig.JWT_SECRET_KEY", "j" * 40)
    app = create_app("production", TMDB_BASE_URL=fake_tmdb.base_url)
    assert app.test_client().get("/metrics").status_code == 404
