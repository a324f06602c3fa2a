"""`flask import-movielens DIR` on a small MovieLens-format folder the tests write themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Genre, Movie, Rating, User, UserProfile
from app.services.recommendation.movielens import parse_title, rating_to_scale
from tests.factories import make_movie
from tests.helpers import write_movielens

REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "movielens-small"


MOVIES = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
    (2, "Matrix, The (1999)", "Action|Sci-Fi|Thriller|IMAX"),
    (3, '"Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)"', "Western"),
    (4, "Maltese Falcon, The (1941)", "Film-Noir|Mystery"),
    (5, "Cosmos", "(no genres listed)"),
    (6, "No Link Film (2001)", "Drama"),
    (7, "Confessions of a Dangerous Mind (2002)", "Comedy|Crime|Drama"),
    (8, "Confessions of a Dangerous Mind (2002)", "Comedy|Crime|Drama|Romance"),
]
LINKS = [(1, "862"), (2, "603"), (3, "429"), (4, "963"), (5, "409447"), (6, ""), (7, "4912"),
         (8, "4912")]  # fmt: skip
RATINGS = [
    (1, 1, 4.0, 964982703),
    (1, 2, 5.0, 964981247),
    (1, 6, 3.0, 964982224),  # a movie without a tmdbId: skipped
    (2, 2, 0.5, 1445714994),
    (2, 3, 3.5, 1445714996),
    (2, 7, 2.0, 1445715000),
    (2, 8, 4.5, 1445716000),  # the same TMDb film as movie 7, rated later: this one wins
]


@pytest.fixture
def movielens_dir(tmp_path: Path) -> Path:
    rows = [(m, t.strip('"'), g) for m, t, g in MOVIES]
    return write_movielens(tmp_path / "ml", rows, LINKS, RATINGS)


def snapshot(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return {
            "movies": db.session.execute(
                select(Movie.id, Movie.tmdb_id, Movie.title, Movie.release_date).order_by(Movie.id)
            ).all(),
            "users": db.session.execute(select(User.id, User.username).order_by(User.id)).all(),
            "ratings": db.session.execute(
                select(Rating.user_id, Rating.movie_id, Rating.rating).order_by(Rating.id)
            ).all(),
            "genres": db.session.scalar(select(func.count()).select_from(Genre)),
        }


def test_titles_lose_the_year_and_get_their_article_back() -> None:
    assert parse_title("Matrix, The (1999)") == ("The Matrix", 1999)
    assert parse_title("Cosmos") == ("Cosmos", None)
    assert parse_title(
        "Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)"
    ) == (
        "The Good, the Bad and the Ugly (Buono, il brutto, il cattivo, Il)",
        1966,
    )
    assert parse_title("Death Note: Desu nôto (2006\u20132007)") == ("Death Note: Desu nôto", 2006)


def test_ratings_double_to_whole_numbers_from_one_to_ten() -> None:
    assert [rating_to_scale(s) for s in (0.5, 1.0, 3.5, 5.0)] == [1, 2, 7, 10]
    with pytest.raises(ValueError):
        rating_to_scale(5.5)


def test_import_creates_users_movies_genres_and_scaled_ratings(
    app: Flask, runner: Any, movielens_dir: Path
) -> None:
    result = runner.invoke(args=["import-movielens", str(movielens_dir)])

    assert result.exit_code == 0, result.output
    assert "Users: 2 created" in result.output
    assert "Movies: 6 created, 0 already in the catalogue, 1 without a tmdbId skipped" in (
        result.output
    )
    assert "Ratings: 5 created, 0 already present, 1 skipped" in result.output
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        assert set(users) == {"ml_1", "ml_2"}
        assert all(user.password_hash == "" for user in users.values())
        assert all(
            profile.recommendations_stale for profile in db.session.scalars(select(UserProfile))
        )
        movies = {m.tmdb_id: m for m in db.session.scalars(select(Movie))}
        assert set(movies) == {862, 603, 429, 963, 409447, 4912}
        matrix = movies[603]
        assert (matrix.title, matrix.release_date) == ("The Matrix", date(1999, 1, 1))
        assert {g.name for g in matrix.genres} == {"Action", "Science Fiction", "Thriller"}
        assert {g.tmdb_id for g in movies[862].genres} == {12, 16, 10751, 35, 14}
        assert [g.name for g in movies[963].genres] == ["Crime", "Mystery"]
        assert movies[409447].release_date is None and movies[409447].genres == []
        assert movies[429].title.startswith("The Good, the Bad and the Ugly")
        ratings = {
            (r.user.username, r.movie.tmdb_id): r for r in db.session.scalars(select(Rating))
        }
        assert {key: r.rating for key, r in ratings.items()} == {
            ("ml_1", 862): 8,
            ("ml_1", 603): 10,
            ("ml_2", 603): 1,
            ("ml_2", 429): 7,
            ("ml_2", 4912): 9,
        }
        assert ratings[("ml_1", 862)].created_at == datetime.fromtimestamp(964982703, UTC)


def test_a_second_import_changes_nothing(app: Flask, runner: Any, movielens_dir: Path) -> None:
    assert runner.invoke(args=["import-movielens", str(movielens_dir)]).exit_code == 0
    first = snapshot(app)
    again = runner.invoke(args=["import-movielens", str(movielens_dir)])
    assert again.exit_code == 0, again.output
    assert "Users: 0 created, 2 already present" in again.output
    assert "Ratings: 0 created, 5 already present" in again.output
    assert snapshot(app) == first


def test_movies_already_in_the_catalogue_are_kept_as_they_are(
    app: Flask, runner: Any, movielens_dir: Path
) -> None:
    known = make_movie(app, tmdb_id=603, title="The Matrix (from TMDb)", vote_count=25000)
    result = runner.invoke(args=["import-movielens", str(movielens_dir)])
    assert "Movies: 5 created, 1 already in the catalogue" in result.output
    with app.app_context():
        matrix = db.session.get(Movie, known.id)
        assert matrix is not None and matrix.title == "The Matrix (from TMDb)"
        assert db.session.scalar(select(func.count()).where(Rating.movie_id == known.id)) == 2


def test_a_username_taken_by_someone_else_stops_the_import(
    app: Flask, runner: Any, movielens_dir: Path
) -> None:
    from tests.factories import make_user

    make_user(app, username="ml_2", email="person@example.com")
    result = runner.invoke(args=["import-movielens", str(movielens_dir)])
    assert result.exit_code == 1
    assert "ml_2 belongs to an account the import did not create" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Movie)) == 0
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_a_malformed_row_is_reported_with_its_file_and_line(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    folder = write_movielens(
        tmp_path / "bad", MOVIES[:2], LINKS[:2], [(1, 1, 4.0, 1), (1, 2, 7.0, 2)]
    )
    result = runner.invoke(args=["import-movielens", str(folder)])
    assert result.exit_code == 1
    assert "ratings.csv, line 3: rating 7.0 is outside 0.5-5.0" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Movie)) == 0


def test_a_missing_file_is_reported(runner: Any, tmp_path: Path) -> None:
    folder = write_movielens(tmp_path / "partial", MOVIES, LINKS, RATINGS)
    (folder / "links.csv").unlink()
    result = runner.invoke(args=["import-movielens", str(folder)])
    assert result.exit_code == 1
    assert "links.csv is missing" in result.output


def test_a_directory_that_does_not_exist_is_a_usage_error(runner: Any, tmp_path: Path) -> None:
    result = runner.invoke(args=["import-movielens", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


@pytest.mark.slow
@pytest.mark.skipif(not REAL_DATA.is_dir(), reason="the shared MovieLens data is absent")
def test_the_real_ml_latest_small_parses_with_the_published_counts() -> None:
    from app.services.recommendation.movielens import read_movielens

    data = read_movielens(REAL_DATA)
    assert len(data.ratings) == 100_836
    assert len(data.movies) == 9_742
    assert len(data.links) == 9_734
    assert {int(r) for r in data.ratings.ratings} <= set(range(1, 11))
