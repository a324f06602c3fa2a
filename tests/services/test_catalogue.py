"""The catalogue service: upserts by tmdb_id, persist-on-browse and sync runs."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.errors import NotFound, UpstreamError, UpstreamUnavailable
from app.extensions import db
from app.models import Genre, Movie
from app.services.catalogue import (
    MovieFilters,
    catalogue_statement,
    ensure_movie_by_tmdb_id,
    upsert_movies,
)
from tests.factories import make_movie
from tests.fake_tmdb import FakeTMDb


def movie_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Movie.id))) or 0


def test_ensure_movie_by_tmdb_id_returns_the_local_movie_without_calling_tmdb(
    app: Flask, fake_tmdb: FakeTMDb
) -> None:
    local = make_movie(app, tmdb_id=7)
    with app.app_context():
        movie = ensure_movie_by_tmdb_id(7)
        assert movie.id == local.id
        assert movie.title == local.title
    assert fake_tmdb.requests == []


def test_ensure_movie_by_tmdb_id_fetches_and_saves_an_unknown_movie_with_its_genres(
    app: Flask, fake_tmdb: FakeTMDb
) -> None:
    with app.app_context():
        movie = ensure_movie_by_tmdb_id(12)
        assert movie.id is not None
        assert movie.title == "Movie 12"
        assert movie.runtime == 112
        assert movie.details_fetched_at is not None
        assert sorted(g.tmdb_id for g in movie.genres) == [16, 18]
        assert db.session.scalar(select(func.count(Genre.id))) == 2
    assert fake_tmdb.count("/movie/12") == 1


def test_ensure_movie_by_tmdb_id_is_not_found_when_tmdb_has_no_such_movie(
    app: Flask, fake_tmdb: FakeTMDb
) -> None:
    with app.app_context(), pytest.raises(NotFound) as raised:
        ensure_movie_by_tmdb_id(999_999)
    assert raised.value.detail == "No movie with TMDb id 999999."
    assert movie_count(app) == 0


@pytest.mark.parametrize(
    ("failure", "error", "code"),
    [
        ("503", UpstreamUnavailable, "tmdb_unavailable"),
        ("401", UpstreamError, "tmdb_auth_failed"),
        ("malformed", UpstreamError, "tmdb_bad_response"),
    ],
)
def test_ensure_movie_by_tmdb_id_maps_tmdb_failures_and_saves_nothing(
    app: Flask, fake_tmdb: FakeTMDb, failure: str, error: type[Exception], code: str
) -> None:
    fake_tmdb.failure = failure
    with app.app_context(), pytest.raises(error) as raised:
        ensure_movie_by_tmdb_id(12)
    assert raised.value.code == code  # type: ignore[attr-defined]
    assert movie_count(app) == 0


@pytest.mark.usefixtures("postgres_only")
def test_title_search_can_use_the_trigram_indexes_on_postgresql(app: Flask) -> None:
    """The search filter keeps a shape pg_trgm serves (ILIKE with ESCAPE over both titles).

    On a test-sized table the planner may rightly prefer reading it all, so sequential scans
    are disabled for the EXPLAIN, and the GIN pending lists are merged so the indexes' costs
    are those of a settled index, as in production.
    """
    with app.app_context():
        upsert_movies(
            [{"id": n, "title": f"Film number {n}", "genre_ids": []} for n in range(1, 2001)]
            + [{"id": 5000, "title": "Zebra Crossing", "genre_ids": []}]
        )
        connection = db.session.connection()
        connection.exec_driver_sql("ANALYZE movies")
        for index in ("ix_movies_title_trgm", "ix_movies_original_title_trgm"):
            connection.exec_driver_sql(f"SELECT gin_clean_pending_list('{index}')")
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        statement = catalogue_statement(MovieFilters(search="zebra"), viewer_id=None)
        compiled = statement.compile(dialect=db.engine.dialect)
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        )
    assert "ix_movies_title_trgm" in plan
    assert "ix_movies_original_title_trgm" in plan
