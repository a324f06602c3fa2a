"""`flask seed-demo` loads the demo catalogue and user, and a second run changes nothing."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Genre, Movie, User, movie_genres
from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD
from app.services.demo_data import DEMO_MOVIES
from app.services.passwords import verify_password
from tests.helpers import snapshot


def catalogue_snapshot(app: Flask) -> dict[str, Any]:
    return snapshot(
        app,
        movies=select(Movie.id, Movie.tmdb_id, Movie.title, Movie.updated_at).order_by(Movie.id),
        genres=select(Genre.id, Genre.tmdb_id, Genre.name).order_by(Genre.id),
        links=select(func.count()).select_from(movie_genres),
        users=select(func.count(User.id)),
    )


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


def test_seed_demo_twice_leaves_the_same_rows(app: Flask, runner: Any) -> None:
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    first = catalogue_snapshot(app)
    second_run = runner.invoke(args=["seed-demo"])
    assert second_run.exit_code == 0
    assert "already present" in second_run.output
    assert catalogue_snapshot(app) == first
