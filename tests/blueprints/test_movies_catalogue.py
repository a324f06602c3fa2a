"""The local catalogue: GET /api/v1/movies/movies/ (filters, search, ordering, paging) and
GET /api/v1/movies/movies/{id}/."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import Genre, Movie, utcnow
from tests.factories import auth_headers, make_genre, make_movie, make_user
from tests.fake_tmdb import FakeTMDb
from tests.helpers import assert_problem, update_profile
from tests.query_count import recorded_statements

URL = "/api/v1/movies/movies/"


def titles(client: FlaskClient, query: str = "", **kwargs: Any) -> list[str]:
    response = client.get(f"{URL}?{query}", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [movie["title"] for movie in response.get_json()["results"]]


@pytest.fixture
def genres(app: Flask) -> dict[str, Genre]:
    return {
        "action": make_genre(app, tmdb_id=28, name="Action"),
        "drama": make_genre(app, tmdb_id=18, name="Drama"),
        "comedy": make_genre(app, tmdb_id=35, name="Comedy"),
    }


@pytest.fixture
def catalogue(app: Flask, genres: dict[str, Genre]) -> dict[str, Movie]:
    action, drama, comedy = genres["action"], genres["drama"], genres["comedy"]
    fields = (
        "title",
        "original_title",
        "release_date",
        "vote_average",
        "vote_count",
        "popularity",
        "genres",
        "original_language",
    )
    rows = {
        "heat": ("Heat", "Heat", date(1995, 12, 15), 7.9, 6000, 40.0, [action, drama], "en"),
        "amelie": (
            "Amélie",
            "Le Fabuleux Destin d'Amélie Poulain",
            date(2001, 4, 25),
            7.8,
            9000,
            25.0,
            [comedy],
            "fr",
        ),
        "drive": ("Drive", "Drive", date(2011, 9, 15), 7.6, 10000, 60.0, [action, drama], "en"),
        "airplane": ("Airplane!", "Airplane!", None, 7.2, 3000, 15.0, [comedy], "en"),
    }
    return {
        key: make_movie(app, **dict(zip(fields, row, strict=True))) for key, row in rows.items()
    }


def test_the_catalogue_is_ordered_by_popularity_by_default(
    client: FlaskClient, catalogue: dict[str, Movie]
) -> None:
    assert titles(client) == ["Drive", "Heat", "Amélie", "Airplane!"]


# What a list screen shows of each movie (MovieListItemSchema); the detail has the rest.
LIST_FIELDS = {
    "id",
    "tmdb_id",
    "title",
    "poster_path",
    "poster_url",
    "release_date",
    "vote_average",
    "vote_count",
    "popularity",
    "original_language",
    "genres",
}


def test_a_catalogue_page_has_the_list_fields_genres_and_image_urls(
    client: FlaskClient, catalogue: dict[str, Movie]
) -> None:
    body = client.get(f"{URL}?search=heat").get_json()
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    heat = body["results"][0]
    assert set(heat) == LIST_FIELDS
    assert heat["id"] == catalogue["heat"].id
    assert heat["release_date"] == "1995-12-15"
    assert (heat["vote_count"], heat["popularity"], heat["original_language"]) == (
        6000,
        40.0,
        "en",
    )
    assert [g["name"] for g in heat["genres"]] == ["Action", "Drama"]
    assert heat["poster_url"] is None


def test_the_list_fields_are_the_documented_ones(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    documented = spec["components"]["schemas"]["MovieListItem"]["properties"]
    assert set(documented) == LIST_FIELDS
    assert set(spec["components"]["schemas"]["Movie"]["properties"]) > LIST_FIELDS


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("genre=35", ["Amélie", "Airplane!"]),
        ("genre=28", ["Drive", "Heat"]),
        ("genre=35,28", ["Drive", "Heat", "Amélie", "Airplane!"]),
        ("genre=99", []),
        ("year_min=2000", ["Drive", "Amélie"]),
        ("year_max=2000", ["Heat"]),
        ("year_min=1995&year_max=2001", ["Heat", "Amélie"]),
        ("min_vote_average=7.8", ["Heat", "Amélie"]),
        ("min_vote_count=9000", ["Drive", "Amélie"]),
        ("language=fr", ["Amélie"]),
        ("language=FR", ["Amélie"]),
        ("search=dri", ["Drive"]),
        ("search=DRIVE", ["Drive"]),
        ("search=fabuleux", ["Amélie"]),
        ("search=%25", []),
        ("search=_", []),
        ("search=airplane!", ["Airplane!"]),
        ("genre=28&min_vote_count=7000", ["Drive"]),
    ],
)
def test_each_filter_narrows_the_catalogue(
    client: FlaskClient, catalogue: dict[str, Movie], query: str, expected: list[str]
) -> None:
    assert titles(client, query) == expected


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("popularity", ["Airplane!", "Amélie", "Heat", "Drive"]),
        ("-popularity", ["Drive", "Heat", "Amélie", "Airplane!"]),
        ("vote_average", ["Airplane!", "Drive", "Amélie", "Heat"]),
        ("-vote_average", ["Heat", "Amélie", "Drive", "Airplane!"]),
        ("vote_count", ["Airplane!", "Heat", "Amélie", "Drive"]),
        ("-vote_count", ["Drive", "Amélie", "Heat", "Airplane!"]),
        ("release_date", ["Heat", "Amélie", "Drive", "Airplane!"]),
        ("-release_date", ["Drive", "Amélie", "Heat", "Airplane!"]),
        ("title", ["Airplane!", "Amélie", "Drive", "Heat"]),
        ("-title", ["Heat", "Drive", "Amélie", "Airplane!"]),
    ],
)
def test_every_ordering_sorts_the_catalogue(
    client: FlaskClient, catalogue: dict[str, Movie], ordering: str, expected: list[str]
) -> None:
    assert titles(client, f"ordering={ordering}") == expected


def test_ties_are_broken_by_id_so_pages_never_overlap(app: Flask, client: FlaskClient) -> None:
    made = [make_movie(app, title=f"Same {n}", popularity=10.0) for n in range(7)]
    seen: list[int] = []
    for page in (1, 2, 3):
        body = client.get(f"{URL}?page_size=3&page={page}").get_json()
        seen += [movie["id"] for movie in body["results"]]
    assert seen == [movie.id for movie in made]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("genre=abc", "genre"),
        ("genre=28,", "genre"),
        ("genre=28;12", "genre"),
        ("genre=-5", "genre"),
        ("year_min=abc", "year_min"),
        ("year_min=2010&year_max=2000", "year_min"),
        ("min_vote_average=11", "min_vote_average"),
        ("min_vote_count=-1", "min_vote_count"),
        ("min_vote_count=9223372036854775808", "min_vote_count"),
        ("language=english", "language"),
        ("ordering=rating", "ordering"),
        ("ordering=--title", "ordering"),
        ("search=", "search"),
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("page=0", "page"),
    ],
)
def test_invalid_catalogue_parameters_are_400_naming_the_field(
    client: FlaskClient, query: str, field: str
) -> None:
    body = assert_problem(client.get(f"{URL}?{query}"), 400, "validation_error")
    assert field in body["errors"]


def test_pages_link_to_each_other_keeping_the_other_parameters(
    app: Flask, client: FlaskClient
) -> None:
    for n in range(5):
        make_movie(app, title=f"Film {n}", popularity=float(n))
    body = client.get(f"{URL}?page_size=2&page=2&ordering=title").get_json()
    assert body["count"] == 5
    assert (
        body["next"] == "http://localhost/api/v1/movies/movies/?page_size=2&page=3&ordering=title"
    )
    assert (
        body["previous"]
        == "http://localhost/api/v1/movies/movies/?page_size=2&page=1&ordering=title"
    )


def test_a_page_past_the_end_is_404(client: FlaskClient, catalogue: dict[str, Movie]) -> None:
    assert_problem(client.get(f"{URL}?page=2"), 404, "page_not_found")


def test_an_empty_catalogue_is_an_empty_first_page(client: FlaskClient) -> None:
    assert client.get(URL).get_json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_adult_titles_are_hidden_from_anonymous_callers_and_by_default(
    app: Flask, client: FlaskClient, catalogue: dict[str, Movie]
) -> None:
    adult = make_movie(app, title="Adult Film", adult=True, popularity=99.0)
    user = make_user(app)
    assert "Adult Film" not in titles(client)
    assert "Adult Film" not in titles(client, headers=auth_headers(app, user))
    assert_problem(client.get(f"{URL}{adult.id}/"), 404, "movie_not_found")


def test_adult_titles_are_shown_when_the_profile_allows_mature_content(
    app: Flask, client: FlaskClient, catalogue: dict[str, Movie]
) -> None:
    adult = make_movie(app, title="Adult Film", adult=True, popularity=99.0)
    user = make_user(app)
    update_profile(app, user, mature_content=True)
    headers = auth_headers(app, user)
    assert titles(client, headers=headers)[0] == "Adult Film"
    assert client.get(f"{URL}{adult.id}/", headers=headers).status_code == 200


def test_an_invalid_token_on_the_public_catalogue_is_401(client: FlaskClient) -> None:
    response = client.get(URL, headers={"Authorization": "Bearer not-a-token"})
    assert_problem(response, 401)


def test_removed_movies_are_not_listed(app: Flask, client: FlaskClient) -> None:
    gone = make_movie(app, title="Gone", deleted_at=utcnow())
    make_movie(app, title="Here")
    assert titles(client) == ["Here"]
    assert_problem(client.get(f"{URL}{gone.id}/"), 404, "movie_not_found")


def test_a_catalogue_page_runs_the_same_few_queries_whatever_its_size(
    app: Flask, client: FlaskClient, genres: dict[str, Genre]
) -> None:
    for n in range(30):
        make_movie(app, title=f"Film {n}", genres=[genres["action"], genres["drama"]])
    counts = []
    for size in (2, 30):
        with recorded_statements(app) as statements:
            body = client.get(f"{URL}?page_size={size}").get_json()
        assert len(body["results"]) == size
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1] == 3  # count, page, genres


def selects(statements: list[str]) -> list[str]:
    """The queries among `statements` (SQLite adds a BEGIN to each transaction)."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_a_signed_in_catalogue_page_adds_only_the_token_query(
    app: Flask, client: FlaskClient, genres: dict[str, Genre]
) -> None:
    for n in range(3):
        make_movie(app, title=f"Film {n}", genres=[genres["action"]])
    headers = auth_headers(app, make_user(app))
    with recorded_statements(app) as with_token:  # first: not in the page cache yet
        assert client.get(URL, headers=headers).status_code == 200
    # The token's user comes with the profile the mature-content rule reads: no lazy load.
    assert len(selects(with_token)) == 4  # the token's user and profile, count, page, genres


@pytest.mark.parametrize("catalogue_size", [1, 30])
def test_a_movie_detail_is_one_query_and_one_more_for_a_token(
    app: Flask, client: FlaskClient, genres: dict[str, Genre], catalogue_size: int
) -> None:
    movies = [
        make_movie(app, title=f"Film {n}", genres=[genres["action"], genres["drama"]])
        for n in range(catalogue_size)
    ]
    headers = auth_headers(app, make_user(app))
    with recorded_statements(app) as with_token:  # first: not in the cache yet
        assert client.get(f"{URL}{movies[0].id}/", headers=headers).status_code == 200
    with recorded_statements(app) as anonymous:
        assert client.get(f"{URL}{movies[0].id}/").status_code == 200
    # The token's user with its revocation check, then the movie with its genres; with a
    # shared cache (Redis) the movie is then served from it.
    assert len(selects(with_token)) == 2
    cached = app.config["CATALOGUE_PAGE_CACHE_SECONDS"] > 0
    assert len(selects(anonymous)) == (0 if cached else 1)


def test_a_movie_has_every_stored_field(
    app: Flask, client: FlaskClient, genres: dict[str, Genre]
) -> None:
    movie = make_movie(
        app,
        title="Blade Runner",
        original_title="Blade Runner",
        overview="Replicants.",
        poster_path="/br.jpg",
        backdrop_path=None,
        runtime=117,
        budget=28_000_000,
        revenue=41_000_000,
        status="Released",
        homepage="https://example.com",
        genres=[genres["drama"], genres["action"]],
    )
    body = client.get(f"{URL}{movie.id}/").get_json()
    assert body["id"] == movie.id
    assert body["tmdb_id"] == movie.tmdb_id
    assert body["overview"] == "Replicants."
    assert body["runtime"] == 117
    assert (body["budget"], body["revenue"]) == (28_000_000, 41_000_000)
    assert body["homepage"] == "https://example.com"
    assert body["poster_url"] == "https://image.tmdb.org/t/p/w500/br.jpg"
    assert body["backdrop_url"] is None
    assert body["details_fetched_at"] is None
    assert [g["name"] for g in body["genres"]] == ["Action", "Drama"]
    assert {"created_at", "updated_at", "popularity", "vote_count", "adult"} <= set(body)


def test_the_image_base_comes_from_config(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_IMAGE_BASE_URL", "https://img.example/w342/")
    movie = make_movie(app, poster_path="/p.jpg")
    assert client.get(f"{URL}{movie.id}/").get_json()["poster_url"] == (
        "https://img.example/w342/p.jpg"
    )


@pytest.mark.parametrize("movie_id", ["999999", "abc", "0", "-1", "99999999999"])
def test_an_unknown_or_non_numeric_movie_id_is_404(client: FlaskClient, movie_id: str) -> None:
    assert_problem(client.get(f"{URL}{movie_id}/"), 404)


def test_the_catalogue_never_calls_tmdb(
    client: FlaskClient, catalogue: dict[str, Movie], fake_tmdb: FakeTMDb
) -> None:
    client.get(URL)
    client.get(f"{URL}{catalogue['heat'].id}/")
    assert fake_tmdb.requests == []
