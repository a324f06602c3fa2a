"""`flask sync-tmdb`, end to end against the fake TMDb server."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import cache, db
from app.models import Genre, Movie, movie_genres, utcnow
from tests.factories import make_movie
from tests.fake_tmdb import FakeTMDb
from tests.fake_tmdb import make_movie as tmdb_movie


def catalogue(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return {
            "movies": db.session.scalar(select(func.count(Movie.id))),
            "genres": db.session.scalar(select(func.count(Genre.id))),
            "links": db.session.scalar(select(func.count()).select_from(movie_genres)),
            "with_details": db.session.scalar(
                select(func.count(Movie.id)).where(Movie.details_fetched_at.is_not(None))
            ),
        }


def first_pages_tmdb_ids(fake: FakeTMDb, pages: int) -> set[int]:
    """The movies on the first `pages` pages of the fake's lists (trending and popular
    are by popularity, top rated by vote average)."""
    movies = list(fake.movies.values())
    size = pages * fake.page_size
    by_popularity = sorted(movies, key=lambda movie: -movie["popularity"])[:size]
    by_vote = sorted(movies, key=lambda movie: -movie["vote_average"])[:size]
    return {movie["id"] for movie in by_popularity + by_vote}


def test_sync_fills_genres_and_every_list_and_prints_a_summary(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    expected = len(first_pages_tmdb_ids(fake_tmdb, 2))
    result = runner.invoke(args=["sync-tmdb", "--pages", "2", "--sleep", "0"])
    assert result.exit_code == 0, result.output
    # 4 lists x 2 pages x 20 records; the lists overlap.
    summary = f"Genres synced: 10. Records upserted: 160. Unique movies: {expected}. Failures: 0."
    assert summary in result.output
    assert catalogue(app) == {
        "movies": expected,
        "genres": 10,
        "links": 2 * expected,
        "with_details": 0,
    }
    for path in (
        "/trending/movie/day",
        "/movie/popular",
        "/movie/top_rated",
        "/trending/movie/week",
    ):
        assert fake_tmdb.count(path) == 2
    assert fake_tmdb.count("page=3") == 0


def test_sync_stops_at_the_end_of_a_short_list(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    result = runner.invoke(args=["sync-tmdb", "--pages", "5", "--sleep", "0"])
    assert result.exit_code == 0, result.output
    assert fake_tmdb.count("/movie/popular") == 3  # the fake has 3 pages
    assert fake_tmdb.count("page=4") == 0
    assert catalogue(app)["movies"] == 60


def test_running_sync_twice_is_harmless(app: Flask, runner: Any, fake_tmdb: FakeTMDb) -> None:
    runner.invoke(args=["sync-tmdb", "--pages", "1", "--sleep", "0"])
    first = catalogue(app)
    with app.app_context():
        cache.clear()
    result = runner.invoke(args=["sync-tmdb", "--pages", "1", "--sleep", "0"])
    assert result.exit_code == 0, result.output
    assert catalogue(app) == first


def test_details_completes_movies_imported_without_them(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    runner.invoke(args=["sync-tmdb", "--pages", "1", "--sleep", "0"])
    assert catalogue(app)["with_details"] == 0
    result = runner.invoke(args=["sync-tmdb", "--pages", "1", "--sleep", "0", "--details"])
    assert result.exit_code == 0, result.output
    expected = len(first_pages_tmdb_ids(fake_tmdb, 1))
    state = catalogue(app)
    assert state["with_details"] == state["movies"] == expected
    assert f"Details fetched: {expected}." in result.output
    with app.app_context():
        movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == 42))
        assert movie is not None
        assert movie.runtime == tmdb_movie(42)["runtime"]
        assert (movie.budget, movie.revenue, movie.status) == (1_000_000, 5_000_000, "Released")


def test_details_only_fetches_movies_that_lack_them(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    make_movie(app, tmdb_id=5, title="Known", details_fetched_at=None)
    make_movie(app, tmdb_id=6, title="Complete", runtime=90, details_fetched_at=utcnow())
    fake_tmdb.movies = {5: tmdb_movie(5), 6: tmdb_movie(6)}
    result = runner.invoke(args=["sync-tmdb", "--pages", "1", "--sleep", "0", "--details"])
    assert result.exit_code == 0, result.output
    assert fake_tmdb.count("/movie/5") == 1
    assert fake_tmdb.count("/movie/6?") == 0


def test_details_records_a_movie_tmdb_no_longer_has_and_never_asks_again(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    make_movie(app, tmdb_id=900_001, title="Gone from TMDb")
    make_movie(app, tmdb_id=7, title="Still there")
    fake_tmdb.movies = {7: tmdb_movie(7)}
    result = runner.invoke(args=["sync-tmdb", "--pages", "1", "--sleep", "0", "--details"])
    assert result.exit_code == 0, result.output
    assert "Unknown to TMDb (recorded, not asked again): 1." in result.output
    assert "Failures: 0." in result.output
    with app.app_context():
        movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == 7))
        assert movie is not None and movie.details_fetched_at is not None
        gone = db.session.scalar(select(Movie).where(Movie.tmdb_id == 900_001))
        assert gone is not None and gone.tmdb_unknown_at is not None
    again = runner.invoke(args=["sync-tmdb", "--pages", "1", "--sleep", "0", "--details"])
    assert again.exit_code == 0, again.output
    assert fake_tmdb.count("/movie/900001") == 1


def test_an_interrupted_run_keeps_the_pages_already_saved_and_exits_non_zero(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    # genres, trending day pages 1 and 2 answer; then popular page 1 fails every attempt.
    fake_tmdb.failures = ["ok", "ok", "ok", "500", "500", "500"]
    result = runner.invoke(args=["sync-tmdb", "--pages", "2", "--sleep", "0"])
    assert result.exit_code == 1
    assert "Stopped early because TMDb failed (popular page 1: TMDb is unavailable" in (
        result.output
    )
    assert "Records upserted: 40. Unique movies: 40. Failures: 1." in result.output
    assert catalogue(app)["movies"] == 40
    assert fake_tmdb.count("/movie/top_rated") == 0


def test_a_bad_page_is_counted_and_the_run_goes_on(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failures = ["ok", "bad_shape"]  # trending day page 1 is malformed
    result = runner.invoke(args=["sync-tmdb", "--pages", "1", "--sleep", "0"])
    assert result.exit_code == 1
    assert "Failures: 1." in result.output
    assert "trending_day page 1: TMDb sent a response in an unexpected shape" in result.output
    # popular, top rated and trending week were saved.
    assert catalogue(app)["movies"] == len(first_pages_tmdb_ids(fake_tmdb, 1))


def test_a_rejected_key_stops_the_run_before_any_list(
    app: Flask, runner: Any, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failure = "401"
    result = runner.invoke(args=["sync-tmdb", "--pages", "3", "--sleep", "0", "--details"])
    assert result.exit_code == 1
    assert "TMDB_API_KEY" in result.output
    assert "test-tmdb-key" not in result.output
    assert [path.split("?")[0] for path in fake_tmdb.requests] == ["/3/genre/movie/list"]
    assert catalogue(app) == {"movies": 0, "genres": 0, "links": 0, "with_details": 0}


def test_pages_must_be_a_positive_number(runner: Any, fake_tmdb: FakeTMDb) -> None:
    result = runner.invoke(args=["sync-tmdb", "--pages", "0"])
    assert result.exit_code == 2
    assert "--pages" in result.output
    assert fake_tmdb.requests == []
