"""Browsing TMDb through the API: trending, popular, top rated, search and by TMDb id.

Every movie returned is saved locally first, so it carries a local id.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import cache, db
from app.models import Genre, Movie, movie_genres
from tests.factories import make_genre, make_movie
from tests.fake_tmdb import API_KEY, FakeTMDb
from tests.helpers import assert_problem

BROWSE_URLS = [
    "/api/v1/movies/movies/trending/",
    "/api/v1/movies/movies/trending/?time_window=week",
    "/api/v1/movies/movies/popular/",
    "/api/v1/movies/movies/top_rated/",
    "/api/v1/movies/movies/search/?q=movie",
    "/api/v1/movies/movies/tmdb/12/",
]


def catalogue_state(app: Flask) -> tuple[int, int, int, list[Any]]:
    """Counts of movies, genres and links, and every movie row's values."""
    with app.app_context():
        rows = db.session.execute(
            select(
                Movie.tmdb_id, Movie.title, Movie.popularity, Movie.vote_count, Movie.updated_at
            ).order_by(Movie.tmdb_id)
        ).all()
        return (
            len(rows),
            db.session.scalar(select(func.count(Genre.id))) or 0,
            db.session.scalar(select(func.count()).select_from(movie_genres)) or 0,
            [tuple(row) for row in rows],
        )


def test_popular_saves_the_page_and_returns_local_ids_in_our_page_shape(
    app: Flask, client: FlaskClient
) -> None:
    response = client.get("/api/v1/movies/movies/popular/")
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 60
    assert body["previous"] is None
    assert body["next"] == "http://localhost/api/v1/movies/movies/popular/?page=2"
    assert len(body["results"]) == 20
    with app.app_context():
        stored = {m.tmdb_id: m for m in db.session.scalars(select(Movie)).all()}
        assert len(stored) == 20
        for item in body["results"]:
            movie = stored[item["tmdb_id"]]
            assert item["id"] == movie.id
            assert item["title"] == movie.title
            assert sorted(g["tmdb_id"] for g in item["genres"]) == sorted(
                g.tmdb_id for g in movie.genres
            )
            assert len(movie.genres) == 2


def test_the_last_tmdb_page_has_no_next_and_a_previous(client: FlaskClient) -> None:
    body = client.get("/api/v1/movies/movies/popular/?page=3").get_json()
    assert body["next"] is None
    assert body["previous"] == "http://localhost/api/v1/movies/movies/popular/?page=2"


def test_search_keeps_the_query_in_next_links(client: FlaskClient, fake_tmdb: FakeTMDb) -> None:
    body = client.get("/api/v1/movies/movies/search/?q=movie").get_json()
    assert body["count"] == 60
    assert body["next"] == "http://localhost/api/v1/movies/movies/search/?q=movie&page=2"
    narrow = client.get("/api/v1/movies/movies/search/?q=Movie 42").get_json()
    assert [item["title"] for item in narrow["results"]] == ["Movie 42"]


def test_browsing_the_same_page_twice_stores_the_same_rows_once(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    first = client.get("/api/v1/movies/movies/popular/").get_json()
    before = catalogue_state(app)
    with app.app_context():
        cache.clear()  # force a second TMDb call, so the upsert really runs again
    second = client.get("/api/v1/movies/movies/popular/").get_json()
    assert fake_tmdb.count("/movie/popular") == 2
    assert catalogue_state(app) == before
    assert [m["id"] for m in second["results"]] == [m["id"] for m in first["results"]]


def test_a_newer_tmdb_value_replaces_the_stored_one(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    client.get("/api/v1/movies/movies/tmdb/7/")
    fake_tmdb.movies[7]["vote_count"] = 99_999
    fake_tmdb.movies[7]["popularity"] = 1234.5
    with app.app_context():
        cache.clear()
    body = client.get("/api/v1/movies/movies/tmdb/7/").get_json()
    assert body["vote_count"] == 99_999
    with app.app_context():
        movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == 7))
        assert movie is not None
        assert (movie.vote_count, movie.popularity) == (99_999, 1234.5)


def test_a_second_browse_within_the_cache_time_does_not_call_tmdb(
    client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    client.get("/api/v1/movies/movies/trending/?time_window=week")
    client.get("/api/v1/movies/movies/trending/?time_window=week")
    client.get("/api/v1/movies/movies/tmdb/3/")
    client.get("/api/v1/movies/movies/tmdb/3/")
    assert fake_tmdb.count("/trending/movie/week") == 1
    assert fake_tmdb.count("/movie/3") == 1


def test_unknown_genres_in_a_list_sync_the_genre_list_once(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    client.get("/api/v1/movies/movies/popular/")
    client.get("/api/v1/movies/movies/popular/?page=2")
    assert fake_tmdb.count("/genre/movie/list") == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(Genre.id))) == 10


def test_a_list_naming_only_known_genres_does_not_fetch_the_genre_list(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    for genre in fake_tmdb.genres:
        make_genre(app, tmdb_id=genre["id"], name=genre["name"])
    client.get("/api/v1/movies/movies/top_rated/")
    assert fake_tmdb.count("/genre/movie/list") == 0


def test_movie_by_tmdb_id_returns_every_detail_with_a_local_id(
    app: Flask, client: FlaskClient
) -> None:
    body = client.get("/api/v1/movies/movies/tmdb/12/").get_json()
    with app.app_context():
        movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == 12))
        assert movie is not None
    assert body["id"] == movie.id
    assert body["runtime"] == 112
    assert body["budget"] == 1_000_000
    assert body["status"] == "Released"
    assert body["details_fetched_at"] is not None
    assert body["poster_url"] == "https://image.tmdb.org/t/p/w500/poster12.jpg"
    assert [g["name"] for g in body["genres"]] == ["Animation", "Drama"]


def test_movie_by_tmdb_id_fills_in_the_details_of_a_movie_seen_in_a_list(
    app: Flask, client: FlaskClient
) -> None:
    listed = client.get("/api/v1/movies/movies/popular/").get_json()["results"][0]
    with app.app_context():
        assert db.session.get(Movie, listed["id"]).runtime is None  # type: ignore[union-attr]
    detailed = client.get(f"/api/v1/movies/movies/tmdb/{listed['tmdb_id']}/").get_json()
    assert detailed["id"] == listed["id"]
    assert detailed["runtime"] is not None


def test_unknown_tmdb_id_is_404_and_saves_nothing(app: Flask, client: FlaskClient) -> None:
    body = assert_problem(
        client.get("/api/v1/movies/movies/tmdb/777777/"), 404, "tmdb_movie_not_found"
    )
    assert body["detail"] == "No movie with TMDb id 777777."
    assert catalogue_state(app)[0] == 0


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        ("500", 503, "tmdb_unavailable"),
        ("503", 503, "tmdb_unavailable"),
        ("429", 503, "tmdb_rate_limited"),
        ("401", 502, "tmdb_auth_failed"),
        ("404", 404, None),
        ("malformed", 502, "tmdb_bad_response"),
        ("bad_shape", 502, "tmdb_bad_response"),
    ],
)
@pytest.mark.parametrize("url", BROWSE_URLS)
def test_each_tmdb_failure_gives_its_status_and_leaves_the_database_unchanged(
    app: Flask,
    client: FlaskClient,
    fake_tmdb: FakeTMDb,
    failure: str,
    status: int,
    code: str | None,
    url: str,
) -> None:
    make_movie(app, tmdb_id=12, title="Already here")
    before = catalogue_state(app)
    fake_tmdb.failure = failure
    fake_tmdb.retry_after = 0
    body = assert_problem(client.get(url), status, code)
    assert API_KEY not in str(body)
    assert catalogue_state(app) == before


def test_timeout_is_503_and_saves_nothing(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_READ_TIMEOUT", 0.2)
    fake_tmdb.failure = "timeout"
    assert_problem(client.get("/api/v1/movies/movies/popular/"), 503, "tmdb_unavailable")
    assert catalogue_state(app)[0] == 0


def test_rate_limited_answer_carries_retry_after(client: FlaskClient, fake_tmdb: FakeTMDb) -> None:
    fake_tmdb.failure = "429"
    fake_tmdb.retry_after = 0
    response = client.get("/api/v1/movies/movies/popular/")
    assert_problem(response, 503, "tmdb_rate_limited")
    # Flask-Limiter raises it to its own window reset when that is later.
    assert int(response.headers["Retry-After"]) >= 0


def test_tmdb_not_configured_is_503_with_how_to_configure(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_API_KEY", "")
    body = assert_problem(client.get("/api/v1/movies/movies/popular/"), 503, "tmdb_not_configured")
    assert "set TMDB_API_KEY" in body["detail"]
    assert fake_tmdb.requests == []


def test_a_page_half_malformed_saves_none_of_it(
    app: Flask, client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.movies[1]["title"] = None  # one bad record among twenty good ones
    fake_tmdb.movies[1]["popularity"] = 10_000.0  # first on the popular page
    assert_problem(client.get("/api/v1/movies/movies/popular/"), 502, "tmdb_bad_response")
    assert catalogue_state(app)[0] == 0


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/movies/movies/trending/?time_window=month",
        "/api/v1/movies/movies/popular/?page=0",
        "/api/v1/movies/movies/popular/?page=501",
        "/api/v1/movies/movies/popular/?page=abc",
        "/api/v1/movies/movies/search/",
        "/api/v1/movies/movies/search/?q=",
        "/api/v1/movies/movies/search/?q=%20%20",
        "/api/v1/movies/movies/search/?q=" + "x" * 201,
    ],
)
def test_invalid_browse_parameters_are_400_without_calling_tmdb(
    client: FlaskClient, fake_tmdb: FakeTMDb, url: str
) -> None:
    assert_problem(client.get(url), 400, "validation_error")
    assert fake_tmdb.requests == []


@pytest.mark.parametrize(
    "url", ["/api/v1/movies/movies/tmdb/abc/", "/api/v1/movies/movies/tmdb/0/"]
)
def test_a_non_numeric_tmdb_id_is_404(client: FlaskClient, url: str) -> None:
    assert_problem(client.get(url), 404)


@pytest.mark.committing
@pytest.mark.postgres
def test_overlapping_pages_browsed_at_once_are_all_saved_once(
    app: Flask, postgres_only: None, fake_tmdb: FakeTMDb
) -> None:
    """Popular and top rated share movies in a different order: no error, no duplicate."""
    urls = ["/api/v1/movies/movies/popular/", "/api/v1/movies/movies/top_rated/"] * 4
    barrier = threading.Barrier(len(urls))
    statuses: list[int] = []
    lock = threading.Lock()

    def browse(url: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.get(url)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=browse, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * len(urls)
    popular = {
        m["id"] for m in sorted(fake_tmdb.movies.values(), key=lambda m: -m["popularity"])[:20]
    }
    top = {
        m["id"] for m in sorted(fake_tmdb.movies.values(), key=lambda m: -m["vote_average"])[:20]
    }
    movies, genres, links, _ = catalogue_state(app)
    assert (movies, genres, links) == (len(popular | top), 10, 2 * len(popular | top))
