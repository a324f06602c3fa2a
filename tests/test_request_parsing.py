"""Request bodies every JSON endpoint refuses before they reach a schema: nesting deeper
than MAX_JSON_DEPTH."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.security import MAX_JSON_DEPTH, json_depth
from tests.factories import auth_headers, make_user
from tests.helpers import assert_problem


def nested(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


@pytest.mark.parametrize(
    ("url", "signed_in"),
    [
        ("/api/v1/auth/login/", False),
        ("/api/v1/auth/users/", False),
        ("/api/v1/auth/token/verify/", False),
        ("/api/v1/favorites/ratings/", True),
        ("/api/v1/movies/history/", True),
    ],
)
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 1_100, 100_000])
def test_json_nested_too_deep_is_400_without_a_traceback(
    app: Flask,
    client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
    url: str,
    signed_in: bool,
    levels: int,
) -> None:
    headers = {"Content-Type": "application/json"}
    if signed_in:
        headers.update(auth_headers(app, make_user(app)))
    caplog.set_level(logging.ERROR)
    body = '{"email": ' + nested(levels) + "}"
    response = client.post(url, data=body, headers=headers)
    problem = assert_problem(response, 400, "json_too_deep")
    assert f"more than {MAX_JSON_DEPTH} levels" in problem["detail"]
    assert "Traceback" not in caplog.text and not caplog.records


def test_json_at_the_depth_limit_reaches_the_schema(client: FlaskClient) -> None:
    body = json.dumps({"email": json.loads(nested(MAX_JSON_DEPTH - 1)), "password": "x"})
    response = client.post(
        "/api/v1/auth/login/", data=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "validation_error")


def test_invalid_json_is_still_reported_as_such(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/login/", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "invalid_json")


def test_depth_counts_arrays_and_objects() -> None:
    assert json_depth(1) == 0
    assert json_depth({"a": 1}) == 1
    assert json_depth({"a": [{"b": []}]}) == 4


def test_every_request_body_string_has_a_bounded_size(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    body_schemas = {
        content["schema"]["$ref"].rsplit("/", 1)[-1]
        for path in spec["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "requestBody" in operation
        for content in operation["requestBody"]["content"].values()
        if "$ref" in content["schema"]
    }
    assert {"Register", "Login", "RatingCreate", "HistoryCreate", "FeedbackCreate"} <= body_schemas
    unbounded = [
        f"{name}.{field}"
        for name in body_schemas
        for field, prop in schemas[name].get("properties", {}).items()
        if not prop.get("readOnly")
        and prop.get("type") == "string"
        # A pattern anchored at both ends or a parsed date-time bounds it too; an uploaded
        # file (binary) is bounded by its route's request size limit (IMPORT_MAX_BYTES).
        and not (
            {"maxLength", "enum", "pattern"} & set(prop)
            or prop.get("format") in ("date-time", "binary")
        )
    ]
    assert unbounded == []
