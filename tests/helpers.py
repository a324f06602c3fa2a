"""Helpers the test modules share: the problem+json check, signing in (API and admin),
reading and writing rows around a request, and small data sets written to disk.

Fixtures live in the `conftest.py` of the folder that uses them; plain functions live
here. Test modules import from this module (and from `tests.factories`), never from each
other.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import (
    Base,
    Genre,
    ItemModelActivation,
    Movie,
    Recommendation,
    User,
    UserProfile,
)
from app.services.recommendation.batches import save_batch
from app.services.recommendation.model_versions import train_model_version
from app.services.recommendation.ranking import RecommendedMovie
from tests.factories import DEFAULT_PASSWORD, make_movie

# --- errors --------------------------------------------------------------------------------

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an application/problem+json error with every key, `status` and `code`."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code
    return body


# --- the API's tokens ----------------------------------------------------------------------

AUTH = "/api/v1/auth"


def assert_form_refused(response: Any) -> None:
    """The admin's answer to a form without a valid CSRF token: the 400 "Form refused" page."""
    assert response.status_code == 400
    assert "Form refused" in response.text


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    return client.post(f"{AUTH}/login/", json={"email": email, "password": password})


# --- the admin's login form ----------------------------------------------------------------

ADMIN_LOGIN = "/admin/login/"
CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form on the page (fails the test when there is none)."""
    match = CSRF_INPUT.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(
    client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD, next_url: str = ""
) -> TestResponse:
    """Fetch the admin login page, take its CSRF token and post the form, as a browser does."""
    page = client.get(ADMIN_LOGIN)
    assert page.status_code == 200
    target = f"{ADMIN_LOGIN}?next={next_url}" if next_url else ADMIN_LOGIN
    return client.post(
        target,
        data={"email": email, "password": password, "csrf_token": csrf_token_in(page.text)},
    )


def post_form(
    client: FlaskClient, page_url: str, url: str, data: dict[str, object]
) -> TestResponse:
    """Post `data` to `url` with the CSRF token of the form on `page_url`."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={**data, "csrf_token": csrf_token_in(page.text)})


# --- rows, read and written in their own app context ---------------------------------------

# Every table that holds rows of one user (besides `users`), read from the models so that a
# new one is checked too.
USER_TABLES: tuple[Any, ...] = tuple(
    sorted(
        (mapper.class_ for mapper in Base.registry.mappers if "user_id" in mapper.columns),
        key=lambda model: model.__tablename__,
    )
)


def stored(app: Flask, model: type[Any], row_id: int) -> Any:
    """The row as the database holds it now, detached (fails the test when it is gone)."""
    with app.app_context():
        row = db.session.get(model, row_id)
        assert row is not None, f"no {model.__name__} {row_id}"
        db.session.expunge(row)
        return row


def snapshot(app: Flask, **queries: Any) -> dict[str, list[Any]]:
    """The rows each query returns now, by name: compare two to prove nothing changed."""
    with app.app_context():
        return {name: db.session.execute(query).all() for name, query in queries.items()}


def count_rows(app: Flask, model: type[Any], **where: Any) -> int:
    with app.app_context():
        statement = select(func.count()).select_from(model).filter_by(**where)
        return db.session.scalar(statement) or 0


def update_profile(app: Flask, user: User, **values: Any) -> None:
    """Write profile columns directly, e.g. `recommendations_stale=False`."""
    with app.app_context():
        profile = db.session.scalars(select(UserProfile).filter_by(user_id=user.id)).one()
        for name, value in values.items():
            setattr(profile, name, value)
        db.session.commit()


def recommendations_stale(app: Flask, user: User) -> bool:
    with app.app_context():
        stale = db.session.scalar(
            select(UserProfile.recommendations_stale).where(UserProfile.user_id == user.id)
        )
        assert stale is not None
        return stale


# --- responses -----------------------------------------------------------------------------

CATALOGUE = "/api/v1/movies/movies/"


def result_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["results"]]


def assert_ordered(
    client: FlaskClient, url: str, headers: dict[str, str], **ascending: list[Any]
) -> None:
    """For each field, `?ordering=<field>` lists the rows as given and `-<field>` reversed."""
    for field, rows in ascending.items():
        ids = [row.id for row in rows]
        for ordering, expected in ((field, ids), (f"-{field}", ids[::-1])):
            response = client.get(f"{url}?ordering={ordering}", headers=headers)
            assert result_ids(response) == expected, ordering


def titles(client: FlaskClient, query: str = "", **kwargs: Any) -> list[str]:
    """The titles of one catalogue page, in the order served."""
    response = client.get(f"{CATALOGUE}?{query}", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [movie["title"] for movie in response.get_json()["results"]]


# --- MovieLens folders ---------------------------------------------------------------------


def write_movielens(
    directory: Path,
    movies: list[tuple[int, str, str]],
    links: list[tuple[int, str]],
    ratings: list[tuple[int, int, float, int]],
) -> Path:
    """A MovieLens "latest" folder, CRLF line ends and quoting as published."""
    directory.mkdir(parents=True, exist_ok=True)
    tables: dict[str, tuple[list[str], list[Any]]] = {
        "movies.csv": (["movieId", "title", "genres"], movies),
        "links.csv": (["movieId", "imdbId", "tmdbId"], [(m, f"{m:07d}", t) for m, t in links]),
        "ratings.csv": (["userId", "movieId", "rating", "timestamp"], ratings),
    }
    for name, (header, rows) in tables.items():
        with (directory / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)
    return directory


def two_taste_clusters(
    directory: Path,
    *,
    films_per_cluster: int = 10,
    users: int = 40,
    ratings_per_user: int = 10,
    seconds_between_ratings: int = 100,
) -> Path:
    """10 "A" users rate the A movies, the other users the B movies, all 4 or 4.5 stars.

    By default: 10 A and 30 B users, 10 films a cluster, each user rating all of theirs.
    Each user rates their cluster's movies in a rotated order, so the two held out (the latest
    20%) differ from user to user. B movies are three times as popular, so popularity ranks
    them first for everybody: right for B users (NDCG 1), wrong for A users (NDCG 0): 0.75
    overall. What an A user liked says exactly which movies are left for them: NDCG 1.
    """
    genres = ("Drama", "Comedy", "Action")
    ids = range(1, 2 * films_per_cluster + 1)
    movies = [
        (m, f"{'A' if m <= films_per_cluster else 'B'} film {m} (1995)", genres[m % 3]) for m in ids
    ]
    links = [(m, str(1000 + m)) for m in ids]
    ratings = []
    for user in range(1, users + 1):
        first = 1 if user <= 10 else films_per_cluster + 1
        for step in range(ratings_per_user):
            movie = first + (user + step) % films_per_cluster
            stars = 4.5 if step % 2 else 4.0
            moment = 1_000_000_000 + user * 10_000 + step * seconds_between_ratings
            ratings.append((user, movie, stars, moment))
    return write_movielens(directory, movies, links, ratings)


def train_model(app: Flask) -> int:
    """Train and store an item-model version from what the database holds now (what a job
    or `flask recommender train` does); returns its id. Web requests never train: a test
    whose results depend on the learned model trains one explicitly with this."""
    with app.app_context():
        return train_model_version().id


def last_activation(app: Flask) -> tuple[int, str, int | None]:
    """The newest model activation as (version_id, reason, activated_by_id)."""
    with app.app_context():
        last = db.session.scalars(
            select(ItemModelActivation).order_by(ItemModelActivation.id.desc())
        ).first()
        assert last is not None, "no model activation"
        return last.version_id, last.reason, last.activated_by_id


def store_batch(
    app: Flask, user: User, movies: list[Movie], kind: str = "content_based"
) -> list[int]:
    """Store a fresh batch recommending `movies` in this order (explained "Stored reason
    <rank from 0>"); returns the recommendation ids by rank."""
    with app.app_context():
        save_batch(
            user.id,
            [
                RecommendedMovie(
                    movie_id=movie.id,
                    score=1.0 - rank / 100,
                    confidence=0.5,
                    recommendation_type=kind,
                    explanation=f"Stored reason {rank}",
                )
                for rank, movie in enumerate(movies)
            ],
        )
        db.session.commit()
        return list(
            db.session.scalars(
                select(Recommendation.id)
                .where(Recommendation.user_id == user.id)
                .order_by(Recommendation.rank)
            )
        )


def stored_movie_ids(app: Flask, user: User) -> list[int]:
    """The movies of the user's current batch (soft-removed rows left out), by rank."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(Recommendation.movie_id)
                .where(Recommendation.user_id == user.id, Recommendation.removed_at.is_(None))
                .order_by(Recommendation.rank)
            )
        )


def make_catalogue(
    app: Flask, count: int, genres: list[Genre] | None = None, **fields: Any
) -> list[Movie]:
    """`count` well-rated movies, the first the most popular."""
    fields.setdefault("release_date", date(2012, 1, 1))
    return [
        make_movie(
            app,
            genres=genres,
            title=f"Catalogue film {n}",
            popularity=500.0 - n,
            vote_average=8.0,
            vote_count=2000,
            **fields,
        )
        for n in range(count)
    ]


def check_for_news_every(app: Flask, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """As in production: a worker checks whether the catalogue and the model changed every
    `seconds`, not on each request (the suite's config checks on each)."""
    monkeypatch.setitem(app.config, "RECOMMENDER_CATALOGUE_CHECK_SECONDS", seconds)
    monkeypatch.setitem(app.config, "RECOMMENDER_MODEL_CHECK_SECONDS", seconds)
