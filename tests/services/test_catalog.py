"""The catalogue service: upserts by tmdb_id, persist-on-browse and sync runs."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.errors import NotFound, UpstreamError, UpstreamUnavailable
from app.extensions import db
from app.models import Genre, Movie
from app.services.catalog import ensure_movie_by_tmdb_id
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
