"""GET /auth/users/me/export/?format=letterboxd|imdb: the library as CSV, which the
importer reads back into the same library (the round trip)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Movie, Rating, User, WatchHistory
from tests.factories import auth_headers, make_entry, make_movie, make_user
from tests.helpers import assert_problem

EXPORT = "/api/v1/auth/users/me/export/"
IMPORTS = "/api/v1/favorites/imports/"


@pytest.fixture
def member_library(app: Flask) -> User:
    """Ratings with reviews (quotes, commas, newlines) and a half step, UTF-8 and comma titles,
    viewings with a same-day rewatch, a movie rated but never logged and one without an IMDb
    id."""
    member = make_user(app)
    amelie = make_movie(app, title="Amélie", imdb_id="tt0211915", release_date=date(2001, 4, 25))
    tiger = make_movie(
        app,
        title="Crouching Tiger, Hidden Dragon",
        imdb_id="tt0190332",
        release_date=date(2000, 7, 6),
    )
    no_imdb = make_movie(app, title="Obscure Short", release_date=date(1990, 1, 1))
    make_entry(app, Rating, member, amelie, rating=9, review='Charming, "whimsical".\nParis.')
    make_entry(app, Rating, member, tiger, rating=Decimal("6.5"))  # a half step
    make_entry(app, Rating, member, no_imdb, rating=4, review="Odd")
    for movie, day in ((amelie, 4), (amelie, 4), (amelie, 20), (tiger, 6)):
        make_entry(app, WatchHistory, member, movie, watched_at=datetime(2024, 1, day, tzinfo=UTC))
    return member


def library(app: Flask, user: User) -> dict[str, list[object]]:
    with app.app_context():
        ratings = db.session.execute(
            select(Movie.title, Rating.rating, Rating.review)
            .join(Rating.movie)
            .where(Rating.user_id == user.id)
            .order_by(Movie.title)
        ).tuples()
        viewings = db.session.execute(
            select(Movie.title, WatchHistory.watched_at)
            .join(WatchHistory.movie)
            .where(WatchHistory.user_id == user.id)
            .order_by(Movie.title, WatchHistory.watched_at)
        ).tuples()
        return {
            "ratings": list(ratings),
            "history": [(title, watched.date()) for title, watched in viewings],
        }


def round_trip(app: Flask, client: FlaskClient, member: User, export_format: str) -> User:
    exported = client.get(
        EXPORT, query_string={"format": export_format}, headers=auth_headers(app, member)
    )
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    newcomer = make_user(app)
    imported = client.post(
        IMPORTS,
        headers=auth_headers(app, newcomer),
        data={"file": (io.BytesIO(exported.data), f"{export_format}.csv")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 201, imported.get_json()
    assert imported.get_json()["counts"]["unmatched"] == 0
    assert imported.get_json()["problems"] == []
    return newcomer


def test_a_letterboxd_export_reimported_into_a_new_account_reproduces_the_library(
    app: Flask, client: FlaskClient, member_library: User
) -> None:
    newcomer = round_trip(app, client, member_library, "letterboxd")

    assert library(app, newcomer) == library(app, member_library)
    assert len(library(app, newcomer)["history"]) == 4


def test_an_imdb_export_reimported_reproduces_the_ratings(
    app: Flask, client: FlaskClient, member_library: User
) -> None:
    newcomer = round_trip(app, client, member_library, "imdb")

    ratings = [(title, score) for title, score, _ in library(app, newcomer)["ratings"]]
    assert ratings == [(t, s) for t, s, _ in library(app, member_library)["ratings"]]


def test_the_letterboxd_export_has_letterboxds_columns(
    app: Flask, client: FlaskClient, member_library: User
) -> None:
    text = client.get(
        EXPORT, query_string={"format": "letterboxd"}, headers=auth_headers(app, member_library)
    ).get_data(as_text=True)

    lines = text.splitlines()
    assert lines[0] == "Title,Year,tmdbID,imdbID,Rating10,WatchedDate,Review"
    tiger = [line for line in lines if line.startswith('"Crouching Tiger, Hidden Dragon",2000,')]
    assert tiger and all(",6.5," in line for line in tiger)  # the half step, exactly


def test_json_stays_the_default_and_an_unknown_format_is_a_400(
    app: Flask, client: FlaskClient, member_library: User
) -> None:
    headers = auth_headers(app, member_library)
    assert client.get(EXPORT, headers=headers).get_json()["user"]["id"] == member_library.id
    assert_problem(client.get(EXPORT, query_string={"format": "xml"}, headers=headers), 400)
