"""HTTP caching and the headers clients use: ETag and 304, Cache-Control, Vary, Link, the
rate-limit headers and what CORS lets a browser's script read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Favorite, Genre, Movie
from tests.factories import auth_headers, make_entry, make_genre, make_movie, make_user
from tests.helpers import update_profile
from tests.query_count import recorded_statements

# The catalogue's operations (list, detail, TMDb browsing); genres stay under /api/v1/movies/.
CATALOGUE = "/api/v1/movies/movies"
GENRES = "/api/v1/movies/genres/"
SIMILAR = "/api/v1/recommendations/similar"
PUBLIC = "public, max-age=60"
PRIVATE = "private, no-store"
ORIGIN = "http://localhost:3000"


def vary(response: Any) -> set[str]:
    """The header names of Vary, across every Vary line, lower-cased."""
    lines = response.headers.getlist("Vary")
    return {name.strip().lower() for line in lines for name in line.split(",") if name.strip()}


LINK = re.compile(r'<([^>]*)>;\s*rel="([^"]+)"')


def links(response: Any) -> dict[str, str]:
    """The Link header as {rel: url}."""
    return {rel: url for url, rel in LINK.findall(response.headers["Link"])}


def rename_movie(app: Flask, movie: Movie, title: str) -> None:
    with app.app_context():
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.title = title
        db.session.commit()


@pytest.fixture
def crime(app: Flask) -> Genre:
    return make_genre(app, tmdb_id=80, name="Crime")


@pytest.fixture
def movie(app: Flask, crime: Genre) -> Movie:
    return make_movie(app, title="Heat", genres=[crime])


# --- ETag and 304 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [f"{CATALOGUE}/", f"{CATALOGUE}/{{id}}/", GENRES, f"{SIMILAR}/{{id}}/"],
    ids=["catalogue list", "movie detail", "genres", "similar movies"],
)
def test_a_matching_if_none_match_is_a_304_with_no_body(
    client: FlaskClient, movie: Movie, path: str
) -> None:
    url = path.format(id=movie.id)
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong: not W/"..."

    again = client.get(url, headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.data == b""
    assert "Content-Type" not in again.headers
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == PUBLIC


def test_an_etag_that_does_not_match_gets_the_full_answer(
    client: FlaskClient, movie: Movie
) -> None:
    response = client.get(f"{CATALOGUE}/{movie.id}/", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200
    assert response.get_json()["title"] == "Heat"


def test_a_weak_form_of_the_etag_also_matches(client: FlaskClient, movie: Movie) -> None:
    etag = client.get(GENRES).headers["ETag"]
    response = client.get(GENRES, headers={"If-None-Match": f'W/{etag}, "other"'})
    assert response.status_code == 304


@pytest.mark.parametrize("path", [f"{CATALOGUE}/{{id}}/", f"{CATALOGUE}/"])
def test_a_changed_movie_changes_the_etag(
    app: Flask, client: FlaskClient, movie: Movie, path: str
) -> None:
    url = path.format(id=movie.id)
    etag = client.get(url).headers["ETag"]

    rename_movie(app, movie, "Heat (Director's Cut)")
    response = client.get(url, headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert "Heat (Director's Cut)" in response.get_data(as_text=True)


def test_a_new_movie_in_a_genre_changes_the_genres_etag(
    app: Flask, client: FlaskClient, movie: Movie, crime: Genre
) -> None:
    etag = client.get(GENRES).headers["ETag"]
    make_movie(app, genres=[crime])
    response = client.get(GENRES, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.get_json()[0]["movie_count"] == 2


def test_a_304_runs_the_same_statements_as_a_200(
    app: Flask, client: FlaskClient, movie: Movie
) -> None:
    etag = client.get(f"{CATALOGUE}/").headers["ETag"]  # warms the page cache, if any
    with recorded_statements(app) as full:
        assert client.get(f"{CATALOGUE}/").headers["ETag"] == etag
    with recorded_statements(app) as revalidated:
        assert client.get(f"{CATALOGUE}/", headers={"If-None-Match": etag}).status_code == 304
    assert len(revalidated) == len(full)


def test_errors_and_private_data_carry_no_etag(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    missing = client.get(f"{CATALOGUE}/999999/")
    assert missing.status_code == 404
    assert "ETag" not in missing.headers
    assert missing.headers["Cache-Control"] == PRIVATE
    assert "ETag" not in client.get("/api/v1/favorites/favorites/", headers=headers).headers


# --- Cache-Control and Vary --------------------------------------------------------------


def test_anonymous_catalogue_reads_are_public_for_the_configured_time(
    app: Flask, client: FlaskClient, movie: Movie, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in (f"{CATALOGUE}/", f"{CATALOGUE}/{movie.id}/", GENRES, f"{SIMILAR}/{movie.id}/"):
        assert client.get(url).headers["Cache-Control"] == PUBLIC, url
    monkeypatch.setitem(app.config, "HTTP_CACHE_MAX_AGE", 300)
    assert client.get(GENRES).headers["Cache-Control"] == "public, max-age=300"


def test_tmdb_browsing_is_public(client: FlaskClient) -> None:
    response = client.get(f"{CATALOGUE}/popular/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == PUBLIC
    assert "ETag" in response.headers


def test_the_catalogue_depends_on_the_caller_so_it_varies_on_authorization(
    app: Flask, client: FlaskClient, movie: Movie
) -> None:
    make_movie(app, title="Adult Film", adult=True, popularity=99.0)
    member = make_user(app)
    update_profile(app, member, mature_content=True)

    anonymous = client.get(f"{CATALOGUE}/", headers={"Origin": ORIGIN})
    signed_in = client.get(f"{CATALOGUE}/", headers=auth_headers(app, member))

    assert {"authorization", "origin"} <= vary(anonymous)
    assert len(anonymous.headers.getlist("Vary")) == 1  # one line, merged with flask-cors's
    assert anonymous.headers["Cache-Control"] == PUBLIC
    assert "Adult Film" not in anonymous.get_data(as_text=True)
    assert "authorization" in vary(signed_in)
    assert signed_in.headers["Cache-Control"] == PRIVATE
    assert "Adult Film" in signed_in.get_data(as_text=True)
    assert signed_in.headers["ETag"] != anonymous.headers["ETag"]


def test_answers_the_same_for_everyone_do_not_vary_on_authorization(
    app: Flask, client: FlaskClient, movie: Movie, headers: dict[str, str]
) -> None:
    for request_headers in ({}, headers):
        response = client.get(GENRES, headers=request_headers)
        assert response.headers["Cache-Control"] == PUBLIC
        assert vary(response) == {"origin"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/favorites/favorites/"),
        ("GET", "/api/v1/favorites/ratings/"),
        ("GET", "/api/v1/favorites/watchlist/"),
        ("GET", "/api/v1/movies/history/"),
        ("GET", "/api/v1/recommendations/"),
        ("GET", "/api/v1/recommendations/feedback/list/"),
        ("GET", "/api/v1/auth/users/me/"),
        ("GET", "/api/v1/auth/users/me/export/"),
        ("GET", "/api/v1/auth/profiles/"),
    ],
)
def test_the_callers_own_data_is_never_stored(
    client: FlaskClient, headers: dict[str, str], method: str, path: str
) -> None:
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == PRIVATE


def test_tokens_are_never_stored(app: Flask, client: FlaskClient, user: Any) -> None:
    login = client.post(
        "/api/v1/auth/login/",
        json={"email": user.email, "password": "correct-horse-battery-staple"},
    )
    assert login.status_code == 200
    assert login.headers["Cache-Control"] == PRIVATE
    refresh = client.post(
        "/api/v1/auth/token/refresh/", json={"refresh": login.get_json()["tokens"]["refresh"]}
    )
    assert refresh.status_code == 200
    assert refresh.headers["Cache-Control"] == PRIVATE


def test_writes_on_the_catalogue_are_never_stored(
    client: FlaskClient, movie: Movie, headers: dict[str, str]
) -> None:
    response = client.post("/api/v1/movies/history/", json={"movie": movie.id}, headers=headers)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == PRIVATE


# --- Link ----------------------------------------------------------------------------------


def test_a_middle_page_links_to_first_prev_next_and_last(app: Flask, client: FlaskClient) -> None:
    for n in range(5):
        make_movie(app, title=f"Film {n}", popularity=100.0 - n)

    response = client.get(f"{CATALOGUE}/?page_size=2&ordering=-popularity&page=2")

    base = f"http://localhost{CATALOGUE}/?page_size=2&ordering=-popularity&page="
    assert links(response) == {
        "first": f"{base}1",
        "prev": f"{base}1",
        "next": f"{base}3",
        "last": f"{base}3",
    }
    body = response.get_json()
    assert body["next"] == links(response)["next"]
    assert body["previous"] == links(response)["prev"]


def test_the_first_page_has_no_prev_and_the_last_no_next(app: Flask, client: FlaskClient) -> None:
    for _ in range(3):
        make_movie(app)
    first = links(client.get(f"{CATALOGUE}/?page_size=2"))
    last = links(client.get(f"{CATALOGUE}/?page_size=2&page=2"))
    assert set(first) == {"first", "next", "last"}
    assert set(last) == {"first", "prev", "last"}
    assert first["last"] == last["last"]
    only = links(client.get(f"{CATALOGUE}/?page_size=5"))
    assert set(only) == {"first", "last"}
    assert only["first"] == only["last"]


def test_a_private_list_has_the_link_header_too(
    app: Flask, client: FlaskClient, user: Any, headers: dict[str, str]
) -> None:
    for _ in range(3):
        make_entry(app, Favorite, user, make_movie(app))
    response = client.get("/api/v1/favorites/favorites/?page_size=1&page=2", headers=headers)
    assert response.status_code == 200
    assert set(links(response)) == {"first", "prev", "next", "last"}
    assert links(response)["last"].endswith("page_size=1&page=3")


def test_tmdb_pages_link_to_the_last_page_tmdb_serves(client: FlaskClient) -> None:
    response = client.get(f"{CATALOGUE}/popular/?page=2")
    assert links(response) == {
        "first": f"http://localhost{CATALOGUE}/popular/?page=1",
        "prev": f"http://localhost{CATALOGUE}/popular/?page=1",
        "next": f"http://localhost{CATALOGUE}/popular/?page=3",
        "last": f"http://localhost{CATALOGUE}/popular/?page=3",
    }


def test_an_error_has_no_link_header(client: FlaskClient) -> None:
    response = client.get(f"{CATALOGUE}/?page=99")
    assert response.status_code == 404
    assert "Link" not in response.headers


# --- Rate-limit headers and CORS -----------------------------------------------------------


def test_rate_limit_headers_count_down(app: Flask, client: FlaskClient) -> None:
    first = client.get(GENRES)
    second = client.get(GENRES)
    assert first.headers["X-RateLimit-Limit"] == "100000"  # the testing anonymous limit
    remaining = int(first.headers["X-RateLimit-Remaining"])
    assert int(second.headers["X-RateLimit-Remaining"]) == remaining - 1
    assert int(first.headers["X-RateLimit-Reset"]) > 1_700_000_000  # epoch seconds
    assert "Retry-After" not in first.headers


def test_rate_limit_headers_can_be_turned_off(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RATELIMIT_HEADERS_ENABLED", False)
    response = client.get(GENRES)
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


EXPOSED = {
    "etag",
    "link",
    "retry-after",
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
}


def exposed(response: Any) -> set[str]:
    value = response.headers.get("Access-Control-Expose-Headers", "")
    return {name.strip().lower() for name in value.split(",") if name.strip()}


def test_cors_lets_a_browser_read_the_caching_and_rate_limit_headers(
    client: FlaskClient, movie: Movie
) -> None:
    actual = client.get(f"{CATALOGUE}/", headers={"Origin": ORIGIN})
    assert actual.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert exposed(actual) == EXPOSED
    assert {"ETag", "Link", "X-RateLimit-Remaining"} <= set(actual.headers.keys())


def test_a_preflight_allows_sending_if_none_match(client: FlaskClient) -> None:
    preflight = client.options(
        f"{CATALOGUE}/",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, if-none-match",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "if-none-match"} <= {h.strip() for h in allowed.split(",")}
    assert exposed(preflight) == EXPOSED


# --- The OpenAPI document ------------------------------------------------------------------


def test_the_document_describes_the_caching_headers(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    listing = spec["paths"][f"{CATALOGUE}/"]["get"]
    assert {"$ref": "#/components/parameters/IfNoneMatch"} in listing["parameters"]
    assert "304" in listing["responses"]
    ok_headers = listing["responses"]["200"]["headers"]
    assert {"ETag", "Cache-Control", "Vary", "Link"} <= set(ok_headers)
    assert ok_headers["Link"] == {"$ref": "#/components/headers/Link"}

    favorites = spec["paths"]["/api/v1/favorites/favorites/"]["get"]["responses"]["200"]
    assert favorites["headers"]["Cache-Control"] == {"$ref": "#/components/headers/CachePrivate"}
    assert "Link" in favorites["headers"]
    assert "ETag" not in favorites["headers"]

    detail = spec["paths"][f"{CATALOGUE}/{{movie_id}}/"]["get"]["responses"]["200"]
    assert "Link" not in detail["headers"]  # one movie is not a page
    assert set(spec["components"]["headers"]) >= {"ETag", "Link", "CachePublic", "CachePrivate"}
