"""The importer as a job runner calls it: an interrupted run resumes without duplicates."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Import, Rating, WatchHistory
from app.services.imports.importer import create_import, run_import
from tests.factories import make_movie, make_user
from tests.fake_tmdb import FakeTMDb

# Letterboxd's import format, as our letterboxd export writes it.
EXPORT = (
    "Title,Year,tmdbID,imdbID,Rating10,WatchedDate,Review\n"
    "Local One,2001,900001,,8,2024-01-01,\n"
    "Movie 21,2020,21,,7,,\n"  # only TMDb knows it
    'Local Two,2002,900002,,6,2024-01-03,"Good, not great."\n'
)


def test_an_interrupted_import_resumes_where_it_stopped_without_duplicates(
    app: Flask, fake_tmdb: FakeTMDb
) -> None:
    user = make_user(app)
    make_movie(app, tmdb_id=900001, title="Local One", release_date=date(2001, 1, 1))
    make_movie(app, tmdb_id=900002, title="Local Two", release_date=date(2002, 1, 1))
    with app.app_context():
        import_id = create_import(user.id, data=EXPORT.encode(), filename="export.csv").id

        fake_tmdb.failure = "503"  # TMDb goes down as the run reaches the second movie
        stopped = run_import(import_id)
        assert stopped.status == "failed"
        assert "TMDb" in stopped.error
        progress = (stopped.rows_done, stopped.rows_total)
        ratings_so_far = db.session.scalar(select(func.count(Rating.id)))

    assert progress == (2, 5)  # Local One's viewing and rating were applied
    assert ratings_so_far == 1

    fake_tmdb.failure = None
    with app.app_context():
        finished = run_import(import_id)
        assert finished.status == "completed"
        assert finished.rows_done == 5
        assert finished.counts["created"] == 5
        assert finished.counts["movies_added"] == 1
        assert finished.counts["already_present"] == 0
        assert db.session.scalar(select(func.count(Rating.id))) == 3
        assert db.session.scalar(select(func.count(WatchHistory.id))) == 2

        # Running a finished import again changes nothing.
        again = run_import(import_id)
        assert again.rows_done == 5
        assert db.session.scalar(select(func.count(Rating.id))) == 3
        assert db.session.scalar(select(func.count(Import.id))) == 1
