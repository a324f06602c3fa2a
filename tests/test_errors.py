"""Every error is application/problem+json with type, title, status, detail and code."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from flask.views import MethodView

from app import create_app
from app.api import Blueprint
from app.errors import Conflict
from app.extensions import api, db
from app.models import Genre
from tests.fake_tmdb import FakeTMDb
from tests.helpers import assert_problem


class EchoArgs(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=2))
    count = ma.fields.Integer(required=True)


@pytest.fixture(scope="module")
def probe_app(fake_tmdb: FakeTMDb) -> Flask:
    """An app with a few routes that exist only to provoke each kind of error."""
    application = create_app("testing", TMDB_BASE_URL=fake_tmdb.base_url)
    blp = Blueprint("probe", __name__)

    @blp.route("/echo")
    class Echo(MethodView):
        @blp.arguments(EchoArgs)
        @blp.response(200, EchoArgs)
        def post(self, data: dict[str, Any]) -> dict[str, Any]:
            return data

    @blp.route("/conflict")
    class Duplicate(MethodView):
        def post(self) -> Any:
            db.session.add(Genre(tmdb_id=424242, name="One"))
            db.session.add(Genre(tmdb_id=424242, name="Two"))
            db.session.commit()
            return {}

    @blp.route("/domain-conflict")
    class DomainConflict(MethodView):
        def post(self) -> Any:
            raise Conflict("Already there.", extra={"existing_id": 7})

    @blp.route("/boom")
    class Boom(MethodView):
        def get(self) -> Any:
            raise RuntimeError("secret internals: SELECT * FROM users")

    with application.app_context():
        api.register_blueprint(blp, url_prefix="/probe")
    application.config["PROPAGATE_EXCEPTIONS"] = False
    return application


def test_unknown_route_is_a_problem_404(client: Any) -> None:
    body = assert_problem(client.get("/api/v1/nothing-here/"), 404, "not_found")
    assert body["title"] == "Not Found"


def test_wrong_method_is_405_with_allow_header(client: Any) -> None:
    response = client.delete("/health/live/")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_validation_error_is_400_naming_each_field(probe_app: Flask) -> None:
    response = probe_app.test_client().post("/probe/echo", json={"name": "x"})
    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {"name", "count"}


def test_malformed_json_is_400(probe_app: Flask) -> None:
    response = probe_app.test_client().post(
        "/probe/echo", data="{oops", content_type="application/json"
    )
    body = assert_problem(response, 400, "invalid_json")
    assert "JSON" in body["detail"]


def test_integrity_conflict_is_409_and_nothing_is_written(probe_app: Flask) -> None:
    assert_problem(probe_app.test_client().post("/probe/conflict"), 409, "conflict")
    with probe_app.app_context():
        assert db.session.query(Genre).filter_by(tmdb_id=424242).count() == 0


def test_domain_conflict_carries_extra_members(probe_app: Flask) -> None:
    body = assert_problem(probe_app.test_client().post("/probe/domain-conflict"), 409, "conflict")
    assert body["existing_id"] == 7
    assert body["detail"] == "Already there."


def test_unexpected_error_is_500_without_internals(probe_app: Flask) -> None:
    response = probe_app.test_client().get("/probe/boom")
    body = assert_problem(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    assert "SELECT" not in text and "Traceback" not in text and "secret" not in text
    assert body["detail"] == "An unexpected error occurred. It has been logged."


def test_oversized_body_is_413(probe_app: Flask) -> None:
    limit = probe_app.config["MAX_CONTENT_LENGTH"]
    response = probe_app.test_client().post(
        "/probe/echo", data="x" * (limit + 1), content_type="application/json"
    )
    assert_problem(response, 413, "payload_too_large")


def test_rate_limit_is_429_with_retry_after(
    probe_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(probe_app.config, "RATELIMIT_ANONYMOUS", "2/minute")
    client = probe_app.test_client()
    statuses = [client.post("/probe/echo", json={}).status_code for _ in range(2)]
    assert statuses == [400, 400]
    response = client.post("/probe/echo", json={})
    body = assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert "2 per 1 minute" in body["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # the window is 60 s, rounded up


def test_successful_responses_carry_no_retry_after(client: Any) -> None:
    assert "Retry-After" not in client.get("/api/v1/movies/movies/").headers


def test_non_numeric_and_huge_ids_are_404_not_500(client: Any) -> None:
    for path in ("/api/v1/movies/movies/abc/", "/api/v1/movies/movies/99999999999999999999/"):
        assert_problem(client.get(path), 404)


def test_a_nul_character_postgresql_cannot_store_is_a_400_not_a_500(
    client: Any, postgres_only: None
) -> None:
    # psycopg2 refuses it before the query is sent; it is bad data, like any other.
    response = client.post(
        "/api/v1/auth/login/", json={"email": "demo\x00@example.com", "password": "x" * 12}
    )
    assert_problem(response, 400, "invalid_value")
