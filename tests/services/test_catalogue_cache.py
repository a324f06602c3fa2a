"""Cached catalogue pages: reused while the catalogue is unchanged, never once it changed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app import configure_page_cache
from app.extensions import cache, db
from app.models import Genre, Movie
from app.services import catalogue_cache
from app.services.accounts import create_user
from app.services.catalogue import upsert_movies
from app.services.catalogue_cache import GENERATION_KEY, LocalPages, generation
from tests.factories import auth_headers, make_movie, make_user
from tests.fake_tmdb import FakeTMDb
from tests.helpers import CATALOGUE, titles, update_profile
from tests.query_count import recorded_statements


@pytest.fixture(autouse=True)
def page_cache_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 60)


def page(client: FlaskClient, query: str = "", **kwargs: Any) -> dict[str, Any]:
    response = client.get(f"{CATALOGUE}?{query}", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def movie_queries(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM movies" in s]


def test_a_repeated_page_is_answered_without_querying_the_catalogue(
    app: Flask, client: FlaskClient
) -> None:
    make_movie(app, title="Heat")
    first = page(client, "ordering=title")
    with recorded_statements(app) as statements:
        again = page(client, "ordering=title")
    assert again == first
    assert movie_queries(statements) == []


def test_a_change_the_app_cannot_see_is_served_stale_until_the_pages_expire(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proof that pages are reused: a hand-written UPDATE does not reach a cached page."""
    make_movie(app, title="Heat")
    assert titles(client) == ["Heat"]
    with app.app_context():
        db.session.execute(text("UPDATE movies SET title = 'Edited by hand'"))
        db.session.commit()
    assert titles(client) == ["Heat"]
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_CACHE_SECONDS", 0)
    assert titles(client) == ["Edited by hand"]


def test_an_orm_change_to_a_movie_refreshes_the_pages(app: Flask, client: FlaskClient) -> None:
    movie = make_movie(app, title="Heat")
    assert titles(client) == ["Heat"]
    with app.app_context():
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.title = "Heat (1995)"
        db.session.commit()
    assert titles(client) == ["Heat (1995)"]


def test_a_soft_deleted_movie_leaves_the_cached_pages(app: Flask, client: FlaskClient) -> None:
    heat = make_movie(app, title="Heat", popularity=50.0)
    make_movie(app, title="Alien", popularity=10.0)
    assert titles(client) == ["Heat", "Alien"]
    with app.app_context():
        stored = db.session.get(Movie, heat.id)
        assert stored is not None
        stored.soft_delete()
        db.session.commit()
    body = page(client)
    assert [movie["title"] for movie in body["results"]] == ["Alien"]
    assert body["count"] == 1


def test_a_renamed_genre_refreshes_the_pages(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        genre = Genre(tmdb_id=28, name="Action")
        db.session.add(genre)
        db.session.commit()
        genre_id = genre.id
    make_movie(app, title="Heat", genres=[genre])
    assert page(client)["results"][0]["genres"][0]["name"] == "Action"
    with app.app_context():
        stored = db.session.get(Genre, genre_id)
        assert stored is not None
        stored.name = "Action & Adventure"
        db.session.commit()
    assert page(client)["results"][0]["genres"][0]["name"] == "Action & Adventure"


def test_movies_saved_by_browsing_tmdb_appear_in_the_cached_pages(
    client: FlaskClient, fake_tmdb: FakeTMDb
) -> None:
    assert page(client)["count"] == 0
    assert client.get("/api/v1/movies/movies/popular/").status_code == 200
    body = page(client)
    assert body["count"] == 20
    assert {movie["tmdb_id"] for movie in body["results"]} == {
        movie["id"]
        for movie in sorted(fake_tmdb.movies.values(), key=lambda m: -m["popularity"])[:20]
    }


def test_an_upsert_of_newer_tmdb_values_refreshes_the_pages(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        upsert_movies([{"id": 603, "title": "The Matrix", "vote_count": 10, "genre_ids": []}])
    assert page(client)["results"][0]["vote_count"] == 10
    with app.app_context():
        upsert_movies([{"id": 603, "title": "The Matrix", "vote_count": 25_000, "genre_ids": []}])
    assert page(client)["results"][0]["vote_count"] == 25_000


def test_a_rolled_back_change_leaves_the_pages_as_they_were(
    app: Flask, client: FlaskClient
) -> None:
    make_movie(app, title="Heat")
    first = page(client)
    with app.app_context():
        stored = db.session.scalars(select(Movie)).one()
        stored.title = "Never committed"
        db.session.flush()
        db.session.rollback()
        # The next commit of the session, which touches no movie, must not count it.
        create_user(email="later@example.com", username="later", password=None)
        db.session.commit()
    with recorded_statements(app) as statements:
        assert page(client) == first
    assert movie_queries(statements) == []


def test_adult_titles_never_leak_into_pages_cached_for_other_callers(
    app: Flask, client: FlaskClient
) -> None:
    make_movie(app, title="Heat", popularity=10.0)
    make_movie(app, title="Adult Film", adult=True, popularity=99.0)
    mature, careful = make_user(app), make_user(app)
    update_profile(app, mature, mature_content=True)
    assert titles(client, headers=auth_headers(app, mature)) == ["Adult Film", "Heat"]
    assert titles(client) == ["Heat"]
    assert titles(client, headers=auth_headers(app, careful)) == ["Heat"]
    assert titles(client, headers=auth_headers(app, mature)) == ["Adult Film", "Heat"]


def test_filters_and_pages_are_cached_apart(app: Flask, client: FlaskClient) -> None:
    for number in range(3):
        make_movie(app, title=f"Film {number}", popularity=float(number))
    assert titles(client, "page_size=2") == ["Film 2", "Film 1"]
    assert titles(client, "page_size=2&page=2") == ["Film 0"]
    assert titles(client, "search=film 1") == ["Film 1"]
    assert titles(client, "ordering=title&page_size=2") == ["Film 0", "Film 1"]


def test_next_and_previous_links_follow_each_request_even_from_the_cache(
    app: Flask, client: FlaskClient
) -> None:
    for number in range(3):
        make_movie(app, title=f"Film {number}")
    page(client, "page_size=1&page=2", base_url="http://api.example.com")
    body = page(client, "page_size=1&page=2", base_url="https://movies.example.org")
    assert body["next"] == "https://movies.example.org/api/v1/movies/movies/?page_size=1&page=3"
    assert body["previous"] == "https://movies.example.org/api/v1/movies/movies/?page_size=1&page=1"


def test_a_page_out_of_range_is_still_404_after_pages_were_cached(
    app: Flask, client: FlaskClient
) -> None:
    make_movie(app, title="Heat")
    page(client)
    response = client.get(f"{CATALOGUE}?page=2")
    assert response.status_code == 404
    assert response.get_json()["code"] == "page_not_found"


def test_pages_cached_before_the_cache_lost_its_generation_are_not_served(
    app: Flask, client: FlaskClient
) -> None:
    """An evicted generation key starts a new generation; it never falls back to an old one."""
    make_movie(app, title="Heat")
    with app.app_context():
        cache.delete(GENERATION_KEY)  # lost before the first page was cached...
    assert titles(client) == ["Heat"]
    with app.app_context():
        db.session.execute(text("UPDATE movies SET title = 'Heat (1995)'"))
        db.session.commit()
        cache.delete(GENERATION_KEY)  # ... and lost again
    assert titles(client) == ["Heat (1995)"]


@pytest.mark.parametrize(
    ("overrides", "seconds"),
    [
        ({"REDIS_URL": "redis://127.0.0.1:6399/0"}, 60),  # shared by every worker
        ({"REDIS_URL": ""}, 0),  # in-process: other workers' changes would not reach it
        ({"REDIS_URL": "", "CATALOGUE_PAGE_CACHE_SECONDS": 15}, 15),  # set explicitly
    ],
)
def test_pages_are_cached_by_default_only_with_a_shared_cache(
    overrides: dict[str, Any], seconds: int
) -> None:
    bare = Flask(__name__)
    bare.config.update({"CATALOGUE_PAGE_CACHE_SECONDS": None, **overrides})
    configure_page_cache(bare)
    assert bare.config["CATALOGUE_PAGE_CACHE_SECONDS"] == seconds


def test_browsing_the_same_tmdb_page_again_keeps_the_cached_pages(
    app: Flask, client: FlaskClient
) -> None:
    assert client.get("/api/v1/movies/movies/popular/").status_code == 200
    first = page(client)
    assert client.get("/api/v1/movies/movies/popular/").status_code == 200  # nothing new in it
    with recorded_statements(app) as statements:
        assert page(client) == first
    assert movie_queries(statements) == []


def test_a_released_savepoint_is_not_yet_a_change_the_outer_commit_is(app: Flask) -> None:
    movie = make_movie(app, title="Heat")
    with app.app_context():
        before = generation()
        with db.session.begin_nested():
            stored = db.session.get(Movie, movie.id)
            assert stored is not None
            stored.title = "Heat (1995)"
        assert generation() == before  # readers would still see the old row
        db.session.commit()
        assert generation() != before


def test_a_rolled_back_savepoint_keeps_the_earlier_changes_of_its_transaction(
    app: Flask,
) -> None:
    movie = make_movie(app, title="Heat")
    with app.app_context():
        before = generation()
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.title = "Heat (1995)"
        db.session.flush()
        db.session.begin_nested().rollback()
        db.session.commit()
        assert generation() != before


def test_text_searches_are_not_cached(app: Flask, client: FlaskClient) -> None:
    make_movie(app, title="Heat")
    assert titles(client, "search=hea") == ["Heat"]
    with recorded_statements(app) as statements:
        assert titles(client, "search=hea") == ["Heat"]
    assert movie_queries(statements) != []


def test_a_cache_failure_after_the_commit_does_not_undo_or_fail_the_write(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    movie = make_movie(app, title="Heat")

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("cache down")

    with app.app_context():
        monkeypatch.setattr(cache, "set", unreachable)
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.title = "Heat (1995)"
        db.session.commit()
        monkeypatch.undo()
        assert db.session.scalar(select(Movie.title)) == "Heat (1995)"
    assert "could not advance the catalogue generation" in caplog.text


@contextmanager
def cache_down() -> Iterator[None]:
    """The shared cache answers as the resilient Redis backend does while Redis is down:
    every read a miss, every write refused."""
    with pytest.MonkeyPatch.context() as outage:
        outage.setattr(cache, "get", lambda *args, **kwargs: None)
        outage.setattr(cache, "add", lambda *args, **kwargs: False)
        outage.setattr(cache, "set", lambda *args, **kwargs: False)
        yield


def test_while_the_cache_is_down_every_page_is_read_from_the_database(
    app: Flask, client: FlaskClient
) -> None:
    """No generation, no copies kept: a change nobody could announce is seen at once."""
    make_movie(app, title="Heat")
    with cache_down():
        assert titles(client) == ["Heat"]
        with app.app_context():
            db.session.execute(text("UPDATE movies SET title = 'Edited by hand'"))
            db.session.commit()
        assert titles(client) == ["Edited by hand"]


def test_a_change_saved_while_the_cache_was_down_retires_the_pages_once_it_is_back(
    app: Flask, client: FlaskClient
) -> None:
    movie = make_movie(app, title="Heat")
    assert titles(client) == ["Heat"]  # cached under the generation of before
    with app.app_context():
        before = cache.get(GENERATION_KEY)
        with cache_down():
            stored = db.session.get(Movie, movie.id)
            assert stored is not None
            stored.title = "Heat (1995)"
            db.session.commit()  # the generation cannot move now
            assert titles(client) == ["Heat (1995)"]  # from the database meanwhile
        # The cache is back, still holding the old generation and the old page.
        assert cache.get(GENERATION_KEY) == before
    assert titles(client) == ["Heat (1995)"]
    with app.app_context():
        assert cache.get(GENERATION_KEY) != before  # moved on: no worker serves the old page


def cache_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys read from the shared cache from now on."""
    keys: list[str] = []
    read = cache.get

    def counted(key: str) -> Any:
        keys.append(key)
        return read(key)

    monkeypatch.setattr(cache, "get", counted)
    return keys


def test_a_page_this_worker_served_costs_one_cache_read_the_generation(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_movie(app, title="Heat")
    first = page(client)
    keys = cache_reads(monkeypatch)
    assert page(client) == first
    assert keys == [GENERATION_KEY]


def test_a_worker_reuses_the_generation_for_the_check_interval_and_its_own_changes_at_once(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_GENERATION_CHECK_SECONDS", 60)
    movie = make_movie(app, title="Heat")
    assert titles(client) == ["Heat"]
    keys = cache_reads(monkeypatch)
    assert titles(client) == ["Heat"]
    assert keys == []  # the generation and the page, both known to this worker
    with app.app_context():
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.title = "Heat (1995)"
        db.session.commit()  # a change made here: seen on the very next page
    assert titles(client) == ["Heat (1995)"]


def test_another_workers_change_is_seen_once_the_check_interval_has_passed(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CATALOGUE_GENERATION_CHECK_SECONDS", 60)
    make_movie(app, title="Heat")
    assert titles(client) == ["Heat"]
    with app.app_context():
        db.session.execute(text("UPDATE movies SET title = 'Heat (1995)'"))
        db.session.commit()
        cache.set(GENERATION_KEY, "set-by-another-worker", timeout=0)  # as its commit does
    assert titles(client) == ["Heat"]  # within the interval: the generation this worker read
    later = time.monotonic() + 61
    monkeypatch.setattr(catalogue_cache.time, "monotonic", lambda: later)
    assert titles(client) == ["Heat (1995)"]


def test_a_worker_keeps_a_page_no_longer_than_the_page_cache_seconds() -> None:
    pages = LocalPages(size=2)
    pages.put("old", (time.time() - 61, 1, [{"title": "Heat"}]))
    pages.put("new", (time.time(), 1, [{"title": "Alien"}]))
    assert pages.get("old", seconds=60) is None
    assert pages.get("new", seconds=60) is not None


def test_a_worker_keeps_only_its_most_recently_used_pages() -> None:
    pages = LocalPages(size=2)
    for key in ("a", "b"):
        pages.put(key, (time.time(), 0, []))
    assert pages.get("a", seconds=60) is not None  # "b" is now the least recently used
    pages.put("c", (time.time(), 0, []))
    assert [key for key in "abc" if pages.get(key, seconds=60)] == ["a", "c"]


# --- A movie's detail ----------------------------------------------------------------------


def detail(client: FlaskClient, movie_id: int, **kwargs: Any) -> Any:
    return client.get(f"{CATALOGUE}{movie_id}/", **kwargs)


def test_a_repeated_detail_is_answered_without_querying_the_catalogue(
    app: Flask, client: FlaskClient
) -> None:
    movie = make_movie(app, title="Heat")
    first = detail(client, movie.id).get_json()
    with recorded_statements(app) as statements:
        again = detail(client, movie.id)
    assert again.status_code == 200 and again.get_json() == first
    assert statements == []


def test_an_orm_change_to_a_movie_refreshes_its_cached_detail(
    app: Flask, client: FlaskClient
) -> None:
    movie = make_movie(app, title="Heat")
    assert detail(client, movie.id).get_json()["title"] == "Heat"
    with app.app_context():
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.title = "Heat (1995)"
        db.session.commit()
    assert detail(client, movie.id).get_json()["title"] == "Heat (1995)"


def test_a_soft_deleted_movie_is_404_even_after_its_detail_was_cached(
    app: Flask, client: FlaskClient
) -> None:
    movie = make_movie(app, title="Heat")
    assert detail(client, movie.id).status_code == 200
    with app.app_context():
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.deleted_at = stored.created_at
        db.session.commit()
    assert detail(client, movie.id).status_code == 404


def test_a_cached_adult_detail_is_shown_only_to_callers_who_allow_it(
    app: Flask, client: FlaskClient
) -> None:
    movie = make_movie(app, title="Late Show", adult=True)
    allowed = make_user(app)
    update_profile(app, allowed, mature_content=True)
    assert detail(client, movie.id, headers=auth_headers(app, allowed)).status_code == 200
    # Now in the cache: still hidden from anonymous callers and from users who do not allow it.
    assert detail(client, movie.id).status_code == 404
    assert detail(client, movie.id, headers=auth_headers(app, make_user(app))).status_code == 404
    assert detail(client, movie.id, headers=auth_headers(app, allowed)).status_code == 200


def test_unknown_movies_are_not_cached(app: Flask, client: FlaskClient) -> None:
    """Probing ids must not fill the cache."""
    known = make_movie(app, title="Heat")
    assert detail(client, known.id).status_code == 200
    assert detail(client, 999_999).status_code == 404
    with app.test_request_context():
        assert cache.get(catalogue_cache.movie_key(known.id)) is not None
        assert cache.get(catalogue_cache.movie_key(999_999)) is None
