"""The compiled dump behind every page schema gives exactly marshmallow's output: on each
field kind it handles or hands back to marshmallow, and on the hot endpoints' responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.blueprints.compiled_dump import CompiledDumpSchema
from app.blueprints.rendered_pages import rendered_pages
from app.models import User
from tests.factories import make_genre, make_movie


class TagSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class ShoutingTagSchema(TagSchema):
    @ma.post_dump
    def shout(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "name": str(data.get("name")).upper()}


class EveryKindSchema(CompiledDumpSchema):
    id = ma.fields.Integer()
    as_text = ma.fields.Integer(as_string=True, attribute="id", dump_only=True)
    score = ma.fields.Float()
    title = ma.fields.String()
    raw = ma.fields.String()
    flag = ma.fields.Boolean()
    day = ma.fields.Date()
    at = ma.fields.DateTime()
    renamed = ma.fields.Integer(data_key="renamedKey", attribute="id", dump_only=True)
    owner_name = ma.fields.String(attribute="owner.name")
    absent = ma.fields.String()
    defaulted = ma.fields.String(dump_default="fallback")
    computed = ma.fields.Function(lambda obj: f"#{ma.utils.get_value(obj, 'id')}")
    described = ma.fields.Method("describe")
    main_tag = ma.fields.Nested(TagSchema, allow_none=True)
    loud_tag = ma.fields.Nested(ShoutingTagSchema, attribute="main_tag", dump_only=True)
    tags = ma.fields.Nested(TagSchema, many=True)
    tag_list = ma.fields.List(ma.fields.Nested(TagSchema), attribute="tags_with_none")
    only_names = ma.fields.Nested(
        TagSchema(only=("name",)), many=True, attribute="tags", dump_only=True
    )
    words = ma.fields.List(ma.fields.String())

    def describe(self, obj: Any) -> str:
        return f"{ma.utils.get_value(obj, 'title')}!"


@dataclass
class Owner:
    name: str


@dataclass
class Item:
    id: int | None
    score: float | None
    title: str | None
    raw: bytes
    flag: int | None
    day: date | None
    at: datetime | None
    owner: Owner | None
    main_tag: dict[str, Any] | None
    tags: list[dict[str, Any]]
    tags_with_none: list[dict[str, Any] | None] | None
    words: list[Any] = field(default_factory=list)


def full_item() -> Item:
    return Item(
        id=7,
        score=3,
        title="Alien",
        raw=b"bytes",
        flag=1,
        day=date(1979, 5, 25),
        at=datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
        owner=Owner("ripley"),
        main_tag={"id": 1, "name": "horror"},
        tags=[{"id": 1, "name": "horror"}, {"id": "2", "name": 3}],
        tags_with_none=[{"id": 3, "name": "space"}, None],
        words=["a", 1],
    )


def empty_item() -> Item:
    return Item(None, None, None, b"", None, None, None, None, None, [], None)


@pytest.mark.parametrize("item", [full_item(), empty_item()], ids=["values", "nones"])
def test_each_field_kind_dumps_as_marshmallow_does(item: Item) -> None:
    schema = EveryKindSchema()
    assert schema.dump(item) == ma.Schema.dump(schema, item)


def test_plain_dicts_and_many_dump_as_marshmallow_does() -> None:
    schema = EveryKindSchema(many=True)
    items = [{"id": 1, "title": "a dict", "tags": [], "owner": {"name": "x"}}, full_item()]
    compiled = schema.dump(items)
    assert compiled == ma.Schema.dump(schema, items)
    assert "absent" not in compiled[0] and compiled[0]["defaulted"] == "fallback"
    assert compiled[0]["owner_name"] == "x" and compiled[1]["loud_tag"]["name"] == "HORROR"


@pytest.fixture
def marshmallow_dumps(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Turns the compiled dump off: every page schema dumps through marshmallow."""

    def turn_off() -> None:
        monkeypatch.setattr(CompiledDumpSchema, "dump", ma.Schema.dump)
        rendered_pages.clear()  # cached pages are rendered again, through marshmallow

    return turn_off


def test_the_hot_pages_answer_what_marshmallow_answers(
    app: Flask,
    client: FlaskClient,
    user: User,
    headers: dict[str, str],
    marshmallow_dumps: Any,
) -> None:
    genres = [make_genre(app, name="Drama"), make_genre(app, name="Crime")]
    movies = [
        make_movie(app, genres=genres, title=f"Film {n}", poster_path=f"/p{n}.jpg")
        for n in range(12)
    ]
    make_movie(app, title="No poster, no genre", poster_path=None, release_date=None)
    client.post("/api/v1/favorites/favorites/", json={"movie": movies[0].id}, headers=headers)
    client.post(
        "/api/v1/favorites/ratings/",
        json={"movie": movies[1].id, "rating": 8.5, "review": "Tense"},
        headers=headers,
    )
    client.post("/api/v1/movies/history/", json={"movie": movies[2].id}, headers=headers)
    pages = [
        "/api/v1/movies/movies/?page_size=50",
        "/api/v1/recommendations/",
        f"/api/v1/recommendations/similar/{movies[0].id}/",
        "/api/v1/favorites/favorites/",
        "/api/v1/favorites/ratings/",
        "/api/v1/movies/history/",
        f"/api/v1/movies/movies/{movies[0].id}/",
    ]
    compiled = {url: client.get(url, headers=headers) for url in pages}
    marshmallow_dumps()
    for url in pages:
        expected = client.get(url, headers=headers)
        assert compiled[url].status_code == expected.status_code == 200, url
        assert compiled[url].get_json() == expected.get_json(), url
        body = compiled[url].get_json()
        assert body.get("results") or body.get("genres"), url  # something was compared
