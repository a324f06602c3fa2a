"""`flask seed-demo` loads the demo catalogue, the demo user and the demo community; a second
run changes nothing, `--reset` builds the same again, and the demo user's first
recommendations are personal and explained by the films they liked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Favorite, Genre, Movie, Rating, User, movie_genres
from app.services.demo import (
    COMMUNITY_SIZE,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_USER_LIBRARY,
    community_email,
)
from app.services.demo_data import DEMO_MOVIES
from app.services.passwords import verify_password
from tests.helpers import snapshot

TITLES = {film["id"]: film["title"] for film in DEMO_MOVIES}
DEMO_LIKED_TITLES = {TITLES[tmdb_id] for tmdb_id, rating, _ in DEMO_USER_LIBRARY if rating >= 7}


def catalogue_snapshot(app: Flask) -> dict[str, Any]:
    return snapshot(
        app,
        movies=select(Movie.id, Movie.tmdb_id, Movie.title, Movie.updated_at).order_by(Movie.id),
        genres=select(Genre.id, Genre.tmdb_id, Genre.name).order_by(Genre.id),
        links=select(func.count()).select_from(movie_genres),
        users=select(func.count(User.id)),
    )


def library_snapshot(app: Flask) -> dict[str, Any]:
    """Every favourite and rating, keyed by email and TMDb id (ids change with --reset)."""
    with app.app_context():
        favorites = db.session.execute(
            select(User.email, Movie.tmdb_id)
            .join(Favorite, Favorite.user_id == User.id)
            .join(Movie, Movie.id == Favorite.movie_id)
        ).all()
        ratings = db.session.execute(
            select(User.email, Movie.tmdb_id, Rating.rating)
            .join(Rating, Rating.user_id == User.id)
            .join(Movie, Movie.id == Rating.movie_id)
        ).all()
        return {"favourites": sorted(favorites), "ratings": sorted(ratings)}


def test_seed_demo_loads_at_least_100_real_films_and_a_demo_user(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert DEMO_EMAIL in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Movie.id))) == len(DEMO_MOVIES) >= 100
        assert db.session.scalar(select(func.count(Genre.id))) == 19
        matrix = db.session.scalar(select(Movie).where(Movie.tmdb_id == 603))
        assert matrix is not None and matrix.title == "The Matrix"
        assert {genre.name for genre in matrix.genres} >= {"Action", "Science Fiction"}
        user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
        assert user is not None and verify_password(user.password_hash, DEMO_PASSWORD)


@pytest.mark.parametrize(
    ("snapshot_of", "second_run_says"),
    [
        (catalogue_snapshot, "already present"),
        (library_snapshot, "0 created, 0 favourites and ratings added"),
    ],
    ids=["catalogue", "library"],
)
def test_seed_demo_twice_leaves_the_same_rows(
    app: Flask, runner: Any, snapshot_of: Callable[[Flask], dict[str, Any]], second_run_says: str
) -> None:
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    first = snapshot_of(app)
    second_run = runner.invoke(args=["seed-demo"])
    assert second_run.exit_code == 0
    assert second_run_says in second_run.output
    assert snapshot_of(app) == first


def test_seed_demo_builds_a_labelled_community_with_integer_ratings(
    app: Flask, runner: Any
) -> None:
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert f"{COMMUNITY_SIZE} created" in result.output
    with app.app_context():
        members = db.session.scalars(
            select(User).where(User.email.like("demo-community-%@example.invalid"))
        ).all()
        assert sorted(m.email for m in members) == [
            community_email(n) for n in range(1, COMMUNITY_SIZE + 1)
        ]
        assert all(m.password_hash == "" for m in members)  # nobody can log in as them
        per_member = dict(
            db.session.execute(
                select(Rating.user_id, func.count(Rating.id))
                .where(Rating.user_id.in_([m.id for m in members]))
                .group_by(Rating.user_id)
            )
            .tuples()
            .all()
        )
        assert len(per_member) == COMMUNITY_SIZE and min(per_member.values()) >= 11
        values = set(
            db.session.scalars(
                select(Rating.rating).where(Rating.user_id.in_([m.id for m in members])).distinct()
            )
        )
        assert values <= set(range(1, 11)) and all(v == int(v) for v in values)


def test_seed_demo_gives_the_demo_user_favorites_and_ratings(app: Flask, runner: Any) -> None:
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    library = library_snapshot(app)
    assert {(e, t, r) for e, t, r in library["ratings"] if e == DEMO_EMAIL} == {
        (DEMO_EMAIL, tmdb_id, rating) for tmdb_id, rating, _ in DEMO_USER_LIBRARY
    }
    assert {t for e, t in library["favourites"] if e == DEMO_EMAIL} == {
        tmdb_id for tmdb_id, _, favorite in DEMO_USER_LIBRARY if favorite
    }


def test_seed_demo_reset_rebuilds_what_the_demo_user_changed(app: Flask, runner: Any) -> None:
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    first = library_snapshot(app)
    with app.app_context():
        demo_id = db.session.scalar(select(User.id).where(User.email == DEMO_EMAIL))
        db.session.execute(Favorite.__table__.delete().where(Favorite.user_id == demo_id))
        db.session.execute(
            Rating.__table__.update().where(Rating.user_id == demo_id).values(rating=2)
        )
        db.session.commit()
    assert library_snapshot(app) != first
    kept = runner.invoke(args=["seed-demo"])
    assert kept.exit_code == 0
    assert library_snapshot(app) != first  # without --reset, the user's changes stay
    reset = runner.invoke(args=["seed-demo", "--reset"])
    assert reset.exit_code == 0, reset.output
    assert "Demo user created" in reset.output
    assert library_snapshot(app) == first


def test_demo_users_first_recommendations_are_explained_by_films_they_liked(
    runner: Any, client: FlaskClient
) -> None:
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    login = client.post(
        "/api/v1/auth/login/", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200
    token = login.get_json()["tokens"]["access"]
    response = client.get(
        "/api/v1/recommendations/?page_size=10", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert len(results) == 10
    assert all(r["recommendation_type"] != "trending" for r in results)
    assert "collaborative" in {r["recommendation_type"] for r in results}
    for result in results:
        assert any(title in result["explanation"] for title in DEMO_LIKED_TITLES), result
    assert not {r["movie"]["title"] for r in results} & DEMO_LIKED_TITLES
