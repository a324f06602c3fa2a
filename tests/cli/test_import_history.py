"""`flask import-history --user ID FILE` runs the importer the API runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Flask

from app.models import Import, Rating
from tests.factories import make_movie, make_user
from tests.helpers import count_rows

IMDB_RATINGS = (
    "Const,Your Rating,Date Rated,Title,URL,Title Type,IMDb Rating,Runtime (mins),Year,"
    "Genres,Num Votes,Release Date,Directors\n"
    'tt0000042,7,2024-01-01,"Local, Film",https://www.imdb.com/title/tt0000042/,movie,7.5,'
    '99,1999,"Drama",100,1999-01-01,"Someone"\n'
)


def test_import_history_fills_the_users_library(app: Flask, runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    user = make_user(app)
    movie = make_movie(app, title="Local, Film", imdb_id="tt0000042", release_date=date(1999, 1, 1))
    path = tmp_path / "ratings.csv"
    path.write_text(IMDB_RATINGS, encoding="utf-8")

    result = runner.invoke(args=["import-history", "--user", str(user.id), str(path)])

    assert result.exit_code == 0, result.output
    assert "(imdb): completed" in result.output
    assert "1 created" in result.output
    assert count_rows(app, Rating, user_id=user.id, movie_id=movie.id, rating=7) == 1
    assert count_rows(app, Import, user_id=user.id) == 1


def test_import_history_refuses_an_unknown_user_and_a_malformed_file(
    app: Flask,
    runner,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    user = make_user(app)
    path = tmp_path / "ratings.csv"
    path.write_text("Nope\n1\n", encoding="utf-8")

    unknown = runner.invoke(args=["import-history", "--user", "999999", str(path)])
    malformed = runner.invoke(args=["import-history", "--user", str(user.id), str(path)])

    assert unknown.exit_code == 1
    assert "User 999999 does not exist" in unknown.output
    assert malformed.exit_code == 1
    assert "ratings.csv line 1: unknown columns" in malformed.output
    assert count_rows(app, Import) == 0
