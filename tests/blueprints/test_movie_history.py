"""The caller's watch history: GET/POST /api/v1/movies/history/, DELETE .../history/{id}/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Movie, User, WatchHistory, utcnow
from tests.factories import auth_headers, make_movie, make_user
from tests.helpers import assert_problem, recommendations_stale, update_profile
from tests.query_count import recorded_statements

URL = "/api/v1/movies/history/"


@pytest.fixture
def movie(app: Flask) -> Movie:
    return make_movie(app)


def history_rows(app: Flask, user: User) -> list[tuple[int, int]]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(WatchHistory.id, WatchHistory.movie_id)
                .where(WatchHistory.user_id == user.id)
                .order_by(WatchHistory.id)
            ).all()
        ]


def test_recording_a_viewing_is_201_with_the_movie_and_the_time(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    movie = make_movie(app, title="Heat")
    before = utcnow()
    response = client.post(URL, json={"movie": movie.id}, headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["movie"]["id"] == movie.id
    assert body["movie"]["title"] == "Heat"
    watched = datetime.fromisoformat(body["watched_at"])
    assert before - timedelta(seconds=1) <= watched <= utcnow()
    assert history_rows(app, user) == [(body["id"], movie.id)]


@pytest.mark.parametrize(
    ("watched_at", "stored_as"),
    [
        ("2024-03-01T20:30:00+01:00", datetime(2024, 3, 1, 19, 30, tzinfo=UTC)),
        ("0001-01-01T00:00:00-01:00", datetime(1, 1, 1, 1, 0, tzinfo=UTC)),  # the earliest
    ],
)
def test_a_viewing_can_be_recorded_at_a_given_time(
    client: FlaskClient, headers: dict[str, str], movie: Movie, watched_at: str, stored_as: datetime
) -> None:
    response = client.post(URL, json={"movie": movie.id, "watched_at": watched_at}, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert datetime.fromisoformat(response.get_json()["watched_at"]) == stored_as


def test_watching_the_same_movie_again_is_a_second_entry(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    client.post(URL, json={"movie": movie.id}, headers=headers)
    client.post(URL, json={"movie": movie.id}, headers=headers)
    assert len(history_rows(app, user)) == 2


def test_recording_a_viewing_marks_recommendations_stale(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    update_profile(app, user, recommendations_stale=False)
    client.post(URL, json={"movie": movie.id}, headers=headers)
    assert recommendations_stale(app, user)


def test_an_unknown_movie_is_404_and_records_nothing(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    response = client.post(URL, json={"movie": 987654}, headers=headers)
    assert_problem(response, 404, "movie_not_found")
    assert history_rows(app, user) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "movie"),
        ({"movie": "12"}, "movie"),
        ({"movie": 0}, "movie"),
        ({"movie": 2**40}, "movie"),
        ({"movie": 1, "rating": 5}, "rating"),
        ({"movie": 1, "watched_at": "yesterday"}, "watched_at"),
    ],
)
def test_an_invalid_body_is_400_naming_the_field(
    app: Flask,
    client: FlaskClient,
    body: dict[str, object],
    field: str,
    headers: dict[str, str],
) -> None:
    response = client.post(URL, json=body, headers=headers)
    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]


@pytest.mark.parametrize(
    "watched_at",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:00:00-05:00",
        "9999-12-31T23:59:59-00:01",
    ],
)
def test_an_instant_outside_what_utc_can_hold_is_400_naming_the_field(
    app: Flask,
    client: FlaskClient,
    watched_at: str,
    user: User,
    headers: dict[str, str],
    movie: Movie,
) -> None:
    response = client.post(URL, json={"movie": movie.id, "watched_at": watched_at}, headers=headers)
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"] == {
        "watched_at": ["Must be an instant between years 1 and 9999 in UTC."]
    }
    assert history_rows(app, user) == []


def test_a_viewing_in_the_future_is_400(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    response = client.post(URL, json={"movie": movie.id, "watched_at": tomorrow}, headers=headers)
    assert_problem(response, 400, "validation_error")
    assert history_rows(app, user) == []


def test_history_is_the_callers_own_newest_first(app: Flask, client: FlaskClient) -> None:
    user, other = make_user(app), make_user(app)
    old, new = make_movie(app, title="Old"), make_movie(app, title="New")
    headers = auth_headers(app, user)
    client.post(URL, json={"movie": old.id, "watched_at": "2020-01-01T10:00:00Z"}, headers=headers)
    client.post(URL, json={"movie": new.id, "watched_at": "2023-01-01T10:00:00Z"}, headers=headers)
    client.post(URL, json={"movie": old.id}, headers=auth_headers(app, other))
    body = client.get(URL, headers=headers).get_json()
    assert body["count"] == 2
    assert [entry["movie"]["title"] for entry in body["results"]] == ["New", "Old"]
    assert body["results"][0]["watched_at"].startswith("2023-01-01T10:00:00")


def test_history_is_paginated(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    for _ in range(3):
        client.post(URL, json={"movie": movie.id}, headers=headers)
    body = client.get(f"{URL}?page_size=2", headers=headers).get_json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] == "http://localhost/api/v1/movies/history/?page_size=2&page=2"
    assert_problem(client.get(f"{URL}?page=3&page_size=2", headers=headers), 404)
    assert_problem(client.get(f"{URL}?page_size=101", headers=headers), 400)


def test_deleting_an_entry_is_204_and_removes_only_it(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], movie: Movie
) -> None:
    first = client.post(URL, json={"movie": movie.id}, headers=headers).get_json()
    second = client.post(URL, json={"movie": movie.id}, headers=headers).get_json()
    update_profile(app, user, recommendations_stale=False)
    response = client.delete(f"{URL}{first['id']}/", headers=headers)
    assert response.status_code == 204
    assert history_rows(app, user) == [(second["id"], movie.id)]
    assert recommendations_stale(app, user)


def test_deleting_another_users_entry_is_404_and_keeps_it(app: Flask, client: FlaskClient) -> None:
    owner, intruder = make_user(app), make_user(app)
    movie = make_movie(app)
    entry = client.post(URL, json={"movie": movie.id}, headers=auth_headers(app, owner)).get_json()
    response = client.delete(f"{URL}{entry['id']}/", headers=auth_headers(app, intruder))
    assert_problem(response, 404, "history_not_found")
    assert history_rows(app, owner) == [(entry["id"], movie.id)]


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", URL), ("post", URL), ("delete", f"{URL}1/")],
)
def test_history_needs_a_token(client: FlaskClient, method: str, url: str) -> None:
    assert_problem(getattr(client, method)(url), 401)


def test_history_pages_run_a_constant_number_of_queries(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    counts = []
    for n in (1, 10):
        with app.app_context():
            for _ in range(n):
                db.session.add(WatchHistory(user_id=user.id, movie_id=make_movie(app).id))
            db.session.commit()
        with recorded_statements(app) as statements:
            body = client.get(f"{URL}?page_size=100", headers=headers).get_json()
        assert len(body["results"]) == (1 if n == 1 else 11)
        counts.append(len(statements))
    assert counts[0] == counts[1]
    with app.app_context():
        assert db.session.scalar(select(func.count(WatchHistory.id))) == 11
