"""app/json_provider.py: responses encoded by orjson read as Flask's own encoder wrote them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import orjson
import pytest
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider

from app.extensions import db
from app.json_provider import OrjsonProvider
from app.models import Recommendation
from tests.factories import make_movie, make_recommendation, make_user


@dataclass
class Point:
    x: int
    y: int


VALUES = {
    "title": "Amélie — 天気の子",
    "when": datetime(2026, 12, 3, 21, 40, tzinfo=UTC),
    "day": date(2026, 12, 3),
    "price": Decimal("12.50"),
    "id": UUID("12345678-1234-5678-1234-567812345678"),
    "point": Point(1, 2),
    "nested": {"b": [1, 2.5, None, True], "a": {}},
}


def flask_app(provider: type[DefaultJSONProvider] = OrjsonProvider) -> Flask:
    app = Flask(__name__)
    app.json = provider(app)
    return app


def body_of(app: Flask, value: object) -> bytes:
    with app.app_context():
        return jsonify(value).get_data()


def test_the_api_encodes_its_responses_with_orjson(app):
    assert isinstance(app.json, OrjsonProvider)


def test_a_response_decodes_to_what_flasks_own_encoder_wrote():
    ours = body_of(flask_app(), VALUES)
    flasks = body_of(flask_app(DefaultJSONProvider), VALUES)

    assert json.loads(ours) == json.loads(flasks)
    # Flask's conversions, not orjson's: an HTTP date, a decimal as a string, a dataclass.
    decoded = json.loads(ours)
    assert decoded["when"] == "Thu, 03 Dec 2026 21:40:00 GMT"
    assert decoded["day"] == "Thu, 03 Dec 2026 00:00:00 GMT"
    assert decoded["price"] == "12.50"
    assert decoded["point"] == {"x": 1, "y": 2}


def test_integer_keys_are_written_as_strings_as_flask_writes_them():
    assert body_of(flask_app(), {7: "x"}) == body_of(flask_app(DefaultJSONProvider), {7: "x"})


def test_a_response_is_compact_with_sorted_keys_and_a_closing_newline():
    body = body_of(flask_app(), {"b": 1, "a": {"d": 2, "c": 3}, "t": "é"})

    assert body == '{"a":{"c":3,"d":2},"b":1,"t":"é"}\n'.encode()


def test_debug_mode_indents_the_response_as_flask_does():
    app = flask_app()
    app.debug = True

    assert body_of(app, {"b": 1, "a": [2]}) == b'{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'


def test_what_orjson_refuses_is_encoded_by_the_standard_library():
    huge = 2**70  # orjson writes integers of at most 64 bits

    assert json.loads(body_of(flask_app(), {"n": huge})) == {"n": huge}
    assert flask_app().json.dumps([huge]) == f"[{huge}]"


def test_an_object_no_encoder_knows_still_raises_type_error():
    with pytest.raises(TypeError):
        body_of(flask_app(), {"x": object()})


def test_dumps_with_the_standard_librarys_options_uses_them():
    assert flask_app().json.dumps({"b": 1, "a": 2}, indent=1) == '{\n "a": 2,\n "b": 1\n}'
    assert flask_app().json.dumps({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_unsorted_keys_when_the_app_asks_for_them():
    app = flask_app()
    app.json.sort_keys = False  # type: ignore[attr-defined]

    assert body_of(app, {"b": 1, "a": 2}) == b'{"b":1,"a":2}\n'


def test_json_columns_are_decoded_by_orjson_and_read_back_unchanged(app):
    reasons = [{"kind": "because_you_liked", "movies": ["Amélie", "天気の子"], "weight": 0.25}]
    user, movie = make_user(app), make_movie(app)
    recommendation = make_recommendation(app, user, movie, reasons=reasons)

    with app.app_context():
        # SQLAlchemy hands it to psycopg2 on PostgreSQL and decodes with it on SQLite.
        assert db.engine.dialect._json_deserializer is orjson.loads
        assert db.session.get(Recommendation, recommendation.id).reasons == reasons
