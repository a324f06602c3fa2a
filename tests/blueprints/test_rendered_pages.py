"""Cached catalogue pages, rendered once per URL: the same bytes and headers as a page
rendered on the spot."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.blueprints.movies import routes
from app.blueprints.recommendations import routes as recommendation_routes
from app.blueprints.rendered_pages import rendered_pages
from tests.factories import make_genre, make_movie
from tests.helpers import CATALOGUE

QUERY = "?page_size=2&page=2&ordering=title"


@pytest.fixture
def catalogue(app: Flask) -> None:
    drama = make_genre(app, name="Drama")
    for number in range(5):
        make_movie(app, title=f"Film {number}", genres=[drama], poster_path=f"/p{number}.jpg")


def counted_dumps(monkeypatch: pytest.MonkeyPatch, schema: Any = routes.MOVIE_PAGE) -> list[Any]:
    """Every dump by `schema` (the list's page schema), from now on."""
    dumps: list[Any] = []
    dump = schema.dump

    def counted(*args: Any, **kwargs: Any) -> Any:
        dumps.append(args)
        return dump(*args, **kwargs)

    monkeypatch.setattr(schema, "dump", counted)
    return dumps


def test_a_cached_page_is_rendered_once_per_url(
    app: Flask, client: FlaskClient, catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 60)
    rendered_pages.clear()
    dumps = counted_dumps(monkeypatch)

    first, again = client.get(CATALOGUE + QUERY), client.get(CATALOGUE + QUERY)
    elsewhere = client.get(CATALOGUE + QUERY, base_url="https://movies.example.org")

    assert [first.status_code, again.status_code, elsewhere.status_code] == [200] * 3
    assert len(dumps) == 2  # once here, once for the other host's links
    assert again.get_data() == first.get_data()
    for header in ("Link", "ETag", "Content-Type", "Cache-Control"):
        assert again.headers[header] == first.headers[header], header
    assert (
        elsewhere.get_json()["next"]
        == f"https://movies.example.org{CATALOGUE}?page_size=2&page=3&ordering=title"
    )
    assert (
        'rel="next"' in elsewhere.headers["Link"]
        and "movies.example.org" in elsewhere.headers["Link"]
    )


def test_a_rendered_page_is_what_the_uncached_page_sends(
    app: Flask, client: FlaskClient, catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 0)
    uncached = client.get(CATALOGUE + QUERY)
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 60)
    rendered_pages.clear()
    client.get(CATALOGUE + QUERY)
    rendered = client.get(CATALOGUE + QUERY)

    assert rendered.get_json() == uncached.get_json()
    assert [movie["title"] for movie in rendered.get_json()["results"]] == ["Film 2", "Film 3"]
    assert rendered.get_json()["results"][0]["genres"][0]["name"] == "Drama"
    for header in ("Link", "ETag", "Content-Type"):
        assert rendered.headers[header] == uncached.headers[header], header


def test_an_unchanged_rendered_page_still_answers_304(
    app: Flask, client: FlaskClient, catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 60)
    etag = client.get(CATALOGUE + QUERY).headers["ETag"]
    not_modified = client.get(CATALOGUE + QUERY, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.get_data() == b""


def test_similar_movies_pages_are_rendered_once_per_url_too(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 60)
    drama = make_genre(app, name="Drama")
    heat, *_ = [make_movie(app, title=f"Film {n}", genres=[drama]) for n in range(4)]
    dumps = counted_dumps(monkeypatch, recommendation_routes.SIMILAR_PAGE)
    url = f"/api/v1/recommendations/similar/{heat.id}/?limit=3"

    first, again = client.get(url), client.get(url)

    assert first.status_code == again.status_code == 200
    assert len(dumps) == 1
    assert again.get_data() == first.get_data()
    assert again.headers["Link"] == first.headers["Link"]
    titles = {result["movie"]["title"] for result in first.get_json()["results"]}
    assert titles == {"Film 1", "Film 2", "Film 3"}
    assert first.get_json()["count"] == 3
