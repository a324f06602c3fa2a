"""POST /favorites/imports/ and GET /favorites/imports/{id}/: history from Letterboxd, IMDb
and Trakt exports, written here in each service's real format."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Favorite, Import, Movie, Rating, User, WatchHistory, WatchlistEntry
from tests.factories import auth_headers, make_movie, make_user
from tests.fake_tmdb import FakeTMDb
from tests.fake_tmdb import make_movie as tmdb_movie
from tests.helpers import assert_problem, count_rows, snapshot

IMPORTS = "/api/v1/favorites/imports/"

# Letterboxd's export, byte for byte in shape: quoted titles with commas, UTF-8 titles,
# an empty rating, a diary with a rewatch, a review with a newline inside its quotes.
LETTERBOXD_RATINGS = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2024-01-05,Amélie,2001,https://boxd.it/2b4Q,4.5\n"
    '2024-01-06,"Crouching Tiger, Hidden Dragon",2000,https://boxd.it/1Zyq,3\n'
    "2024-01-07,Unrated Film,2010,https://boxd.it/abcd,\n"
    "2024-01-08,Nothing Like It,1999,https://boxd.it/zzzz,0.5\n"
)
LETTERBOXD_DIARY = (
    "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date\n"
    "2024-01-05,Amélie,2001,https://boxd.it/x1,4.5,,,2024-01-04\n"
    "2024-02-10,Amélie,2001,https://boxd.it/x2,4.5,Yes,,2024-02-09\n"
    '2024-01-06,"Crouching Tiger, Hidden Dragon",2000,https://boxd.it/x3,3,,"wuxia, classic",'
    "2024-01-06\n"
)
LETTERBOXD_WATCHED = (
    "Date,Name,Year,Letterboxd URI\n"
    "2024-01-05,Amélie,2001,https://boxd.it/2b4Q\n"
    "2023-12-25,Paddington 2,2017,https://boxd.it/p2\n"
)
LETTERBOXD_WATCHLIST = "Date,Name,Year,Letterboxd URI\n2024-03-01,Stalker,1979,https://boxd.it/st\n"
LETTERBOXD_LIKES = "Date,Name,Year,Letterboxd URI\n2024-01-05,Amélie,2001,https://boxd.it/2b4Q\n"
LETTERBOXD_REVIEWS = (
    "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Review,Tags,Watched Date\n"
    '2024-01-05,Amélie,2001,https://boxd.it/r1,4.5,,"Charming, ""whimsical"".\n'
    'Paris in colour.",,2024-01-04\n'
)

IMDB_HEADER = (
    "Const,Your Rating,Date Rated,Title,Original Title,URL,Title Type,IMDb Rating,"
    "Runtime (mins),Year,Genres,Num Votes,Release Date,Directors\n"
)


def imdb_row(const: str, rating: str, title: str, year: int, title_type: str = "Movie") -> str:
    return (
        f'{const},{rating},2024-02-01,"{title}","{title}",https://www.imdb.com/title/{const}/,'
        f'{title_type},7.9,101,{year},"Drama, Comedy",12345,{year}-05-01,"Someone"\n'
    )


def upload(
    client: FlaskClient,
    headers: dict[str, str],
    content: bytes | str,
    filename: str,
    **form: str,
) -> Any:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        IMPORTS,
        headers=headers,
        data={"file": (io.BytesIO(data), filename), **form},
        content_type="multipart/form-data",
    )


def letterboxd_zip(**overrides: str) -> bytes:
    files = {
        "ratings.csv": LETTERBOXD_RATINGS,
        "diary.csv": LETTERBOXD_DIARY,
        "watched.csv": LETTERBOXD_WATCHED,
        "watchlist.csv": LETTERBOXD_WATCHLIST,
        "likes/films.csv": LETTERBOXD_LIKES,
        "reviews.csv": LETTERBOXD_REVIEWS,
        "profile.csv": "Date Joined,Username\n2020-01-01,alice\n",
        **overrides,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def letterboxd_catalogue(app: Flask) -> dict[str, Movie]:
    """The local movies a Letterboxd export names (it carries no ids: title and year)."""
    return {
        "amelie": make_movie(app, title="Amélie", release_date=date(2001, 4, 25)),
        "tiger": make_movie(
            app, title="Crouching Tiger, Hidden Dragon", release_date=date(2000, 7, 6)
        ),
        "paddington": make_movie(app, title="Paddington 2", release_date=date(2017, 11, 10)),
        "stalker": make_movie(app, title="Stalker", release_date=date(1979, 5, 25)),
        # Same title, another year: the exact year wins.
        "stalker_remake": make_movie(
            app, title="Stalker", release_date=date(2010, 1, 1), popularity=99.0
        ),
    }


def library_of(app: Flask, user: User) -> dict[str, Any]:
    with app.app_context():
        return {
            "ratings": sorted(
                db.session.execute(
                    select(Movie.title, Rating.rating, Rating.review)
                    .join(Rating.movie)
                    .where(Rating.user_id == user.id)
                ).tuples()
            ),
            "history": sorted(
                (title, watched.date())
                for title, watched in db.session.execute(
                    select(Movie.title, WatchHistory.watched_at)
                    .join(WatchHistory.movie)
                    .where(WatchHistory.user_id == user.id)
                ).tuples()
            ),
            "watchlist": sorted(
                db.session.scalars(
                    select(Movie.title)
                    .join(WatchlistEntry.movie)
                    .where(WatchlistEntry.user_id == user.id)
                )
            ),
            "favorites": sorted(
                db.session.scalars(
                    select(Movie.title).join(Favorite.movie).where(Favorite.user_id == user.id)
                )
            ),
        }


# --- Letterboxd -----------------------------------------------------------------------------


def test_letterboxd_zip_fills_ratings_reviews_history_watchlist_and_likes(
    app: Flask,
    client: FlaskClient,
    user: User,
    headers: dict[str, str],
    letterboxd_catalogue: dict[str, Movie],
) -> None:
    response = upload(client, headers, letterboxd_zip(), "letterboxd-alice.zip")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["source"] == "letterboxd"
    assert body["status"] == "completed"
    assert body["progress"] == {"done": 9, "total": 9}
    assert library_of(app, user) == {
        "ratings": [
            ("Amélie", 9, 'Charming, "whimsical".\nParis in colour.'),
            ("Crouching Tiger, Hidden Dragon", 6, ""),
            # Nothing Like It (0.5 stars = 1) is unknown here and on TMDb: unmatched.
        ],
        "history": [
            ("Amélie", date(2024, 1, 4)),
            ("Amélie", date(2024, 2, 9)),  # the rewatch
            ("Crouching Tiger, Hidden Dragon", date(2024, 1, 6)),
            ("Paddington 2", date(2023, 12, 25)),  # watched.csv, not in the diary
        ],
        "watchlist": ["Stalker"],
        "favorites": ["Amélie"],
    }
    with app.app_context():
        stalker = db.session.scalar(
            select(WatchlistEntry.movie_id).where(WatchlistEntry.user_id == user.id)
        )
    assert stalker == letterboxd_catalogue["stalker"].id  # 1979, not the popular 2010 one
    counts = body["counts"]
    assert counts["unmatched"] == 1
    assert counts["invalid"] == 1
    assert counts["created"] == 8
    assert counts["already_present"] == 0
    assert {(p["file"], p["line"], p["title"]) for p in body["problems"]} == {
        ("ratings.csv", 4, "Unrated Film"),
        ("ratings.csv", 5, "Nothing Like It"),
    }
    reasons = {p["title"]: p["reason"] for p in body["problems"]}
    assert reasons["Unrated Film"] == "the row has no rating"
    assert "no movie" in reasons["Nothing Like It"]


@pytest.mark.usefixtures("letterboxd_catalogue")
def test_reimporting_the_same_file_changes_nothing(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    assert upload(client, headers, letterboxd_zip(), "export.zip").status_code == 201
    queries = {
        "ratings": select(Rating.id, Rating.movie_id, Rating.rating, Rating.review),
        "history": select(WatchHistory.id, WatchHistory.movie_id, WatchHistory.watched_at),
        "watchlist": select(WatchlistEntry.id, WatchlistEntry.movie_id),
        "favorites": select(Favorite.id, Favorite.movie_id),
        "movies": select(Movie.id, Movie.tmdb_id),
    }
    before = snapshot(app, **queries)

    again = upload(client, headers, letterboxd_zip(), "export.zip")

    assert again.status_code == 201
    assert snapshot(app, **queries) == before
    assert again.get_json()["counts"]["created"] == 0
    assert again.get_json()["counts"]["already_present"] == 8


@pytest.mark.usefixtures("letterboxd_catalogue")
def test_a_single_ratings_csv_is_enough(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    response = upload(client, headers, LETTERBOXD_RATINGS, "ratings.csv", source="letterboxd")

    assert response.status_code == 201
    assert [rating for _, rating, _ in library_of(app, user)["ratings"]] == [9, 6]


def test_on_conflict_keep_leaves_an_existing_rating_and_replace_overwrites_it(
    app: Flask,
    client: FlaskClient,
    user: User,
    headers: dict[str, str],
    letterboxd_catalogue: dict[str, Movie],
) -> None:
    amelie = letterboxd_catalogue["amelie"]
    client.post(
        "/api/v1/favorites/ratings/",
        headers=headers,
        json={"movie": amelie.id, "rating": 3, "review": "Mine."},
    )

    kept = upload(client, headers, LETTERBOXD_RATINGS, "ratings.csv")
    assert kept.get_json()["counts"]["already_present"] == 1
    assert count_rows(app, Rating, user_id=user.id, movie_id=amelie.id, rating=3) == 1

    replaced = upload(client, headers, LETTERBOXD_RATINGS, "ratings.csv", on_conflict="replace")
    assert replaced.get_json()["counts"]["updated"] == 1
    assert count_rows(app, Rating, user_id=user.id, movie_id=amelie.id, rating=9) == 1


# --- IMDb -----------------------------------------------------------------------------------


def test_imdb_ratings_match_by_imdb_id_locally_and_through_tmdb_find(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], fake_tmdb: FakeTMDb
) -> None:
    local = make_movie(app, title="Local Hero", imdb_id="tt0085859", release_date=date(1983, 2, 17))
    fake_tmdb.movies[7] = tmdb_movie(7, title="Remote Film", imdb_id="tt7654321")
    content = (
        IMDB_HEADER
        + imdb_row("tt0085859", "8", "Local Hero", 1983)
        + imdb_row("tt7654321", "10", "Remote Film", 2020)
        + imdb_row("tt0903747", "9", "Breaking Bad", 2008, title_type="TV Series")
        + imdb_row("tt0000001", "", "No Rating, Yet", 2001)
    )

    response = upload(client, headers, content, "ratings.csv")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["source"] == "imdb"
    assert fake_tmdb.count("/find/tt7654321") == 1
    with app.app_context():
        remote = db.session.scalar(select(Movie).where(Movie.tmdb_id == 7))
        assert remote is not None and remote.imdb_id == "tt7654321"
        remote_id = remote.id
    assert count_rows(app, Rating, user_id=user.id, movie_id=local.id, rating=8) == 1
    assert count_rows(app, Rating, user_id=user.id, movie_id=remote_id, rating=10) == 1
    assert body["counts"]["movies_added"] == 1
    assert body["counts"]["invalid"] == 2
    assert {p["line"]: p["reason"] for p in body["problems"]} == {
        4: "not a movie (IMDb title type 'TV Series')",
        5: "the row has no rating",
    }


def test_title_and_year_fall_back_to_tmdb_search_preferring_the_exact_year(
    app: Flask, client: FlaskClient, headers: dict[str, str], fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.movies[41] = tmdb_movie(41, title="Solaris", release_date="1972-03-20", popularity=5)
    fake_tmdb.movies[42] = tmdb_movie(42, title="Solaris", release_date="2002-11-27", popularity=90)
    content = "Date,Name,Year,Letterboxd URI,Rating\n2024-01-01,Solaris,1972,https://boxd.it/s,5\n"

    response = upload(client, headers, content, "ratings.csv")

    assert response.status_code == 201
    assert fake_tmdb.count("year=1972") == 1
    with app.app_context():
        rated = db.session.scalar(select(Movie.tmdb_id).join(Rating.movie))
    assert rated == 41
    assert response.get_json()["counts"]["movies_added"] == 1


# --- Trakt ----------------------------------------------------------------------------------


def trakt_movie(title: str, year: int, tmdb: int | None, imdb: str | None) -> dict[str, Any]:
    return {
        "title": title,
        "year": year,
        "ids": {"trakt": 1, "slug": "x", "imdb": imdb, "tmdb": tmdb},
    }


HALF_STEP_REFUSAL = "the rating {!r} is not from 1 to 10 in steps of 0.5"


def test_letterboxd_rating10_keeps_half_steps_exactly_and_refuses_other_fractions(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    for tmdb_id, title in [(329865, "Arrival"), (1398, "Stalker"), (949, "Heat"), (78, "Ran")]:
        make_movie(app, title=title, tmdb_id=tmdb_id, release_date=date(1990, 1, 1))
    content = (
        "Title,Year,tmdbID,imdbID,Rating10,WatchedDate,Review\n"
        "Arrival,1990,329865,,7.5,,\n"
        "Stalker,1990,1398,,10,,\n"
        "Heat,1990,949,,7.25,,\n"
        "Ran,1990,78,,0.5,,\n"
    )

    response = upload(client, headers, content, "letterboxd-import.csv")

    assert response.status_code == 201, response.get_json()
    ratings = library_of(app, user)["ratings"]
    assert ratings == [("Arrival", Decimal("7.5"), ""), ("Stalker", Decimal("10"), "")]
    assert [str(rating) for _, rating, _ in ratings] == ["7.5", "10.0"]
    assert {p["title"]: p["reason"] for p in response.get_json()["problems"]} == {
        "Heat": HALF_STEP_REFUSAL.format("7.25"),
        "Ran": HALF_STEP_REFUSAL.format("0.5"),
    }


def test_imdb_ratings_are_whole_numbers_and_this_apis_own_half_steps_come_back(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    make_movie(app, title="Local Hero", imdb_id="tt0085859", release_date=date(1983, 2, 17))
    make_movie(app, title="Arrival", imdb_id="tt2543164", release_date=date(2016, 11, 10))
    make_movie(app, title="Heat", imdb_id="tt0113277", release_date=date(1995, 12, 15))
    content = (
        IMDB_HEADER
        + imdb_row("tt0085859", "8", "Local Hero", 1983)
        + imdb_row("tt2543164", "6.5", "Arrival", 2016)
        + imdb_row("tt0113277", "8.4", "Heat", 1995)
    )

    response = upload(client, headers, content, "ratings.csv")

    assert response.status_code == 201, response.get_json()
    assert library_of(app, user)["ratings"] == [
        ("Arrival", Decimal("6.5"), ""),
        ("Local Hero", Decimal("8"), ""),
    ]
    assert {p["title"]: p["reason"] for p in response.get_json()["problems"]} == {
        "Heat": HALF_STEP_REFUSAL.format("8.4")
    }


def test_trakt_json_matches_by_tmdb_id_and_skips_episodes(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    local = make_movie(app, title="Arrival", tmdb_id=329865, release_date=date(2016, 11, 10))
    export = {
        "history": [
            {
                "id": 1,
                "watched_at": "2024-01-02T20:00:00.000Z",
                "action": "watch",
                "type": "movie",
                "movie": trakt_movie("Arrival", 2016, 329865, "tt2543164"),
            },
            {
                "id": 2,
                "watched_at": "2024-01-03T20:00:00.000Z",
                "action": "watch",
                "type": "episode",
                "episode": {"season": 1, "number": 1},
            },
        ],
        "ratings": [
            {
                "rated_at": "2024-01-03T10:00:00.000Z",
                "rating": 9,
                "type": "movie",
                "movie": trakt_movie("Movie 12", 2020, 12, None),
            },
        ],
        "watchlist": [
            {
                "rank": 1,
                "listed_at": "2024-01-04T10:00:00.000Z",
                "type": "movie",
                "movie": trakt_movie("Movie 13", 2020, 13, None),
            },
        ],
    }

    response = upload(client, headers, json.dumps(export), "trakt-export.json")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["source"] == "trakt"
    assert body["counts"]["rows_read"] == 3
    assert body["counts"]["movies_added"] == 2
    with app.app_context():
        viewing = db.session.scalars(select(WatchHistory)).one()
        assert (viewing.movie_id, viewing.watched_at) == (
            local.id,
            datetime(2024, 1, 2, 20, tzinfo=UTC),
        )
        assert db.session.scalar(select(Movie.tmdb_id).join(Rating.movie)) == 12
        assert db.session.scalar(select(Movie.tmdb_id).join(WatchlistEntry.movie)) == 13


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "filename", "where"),
    [
        (
            "Date,Name,Year,Letterboxd URI,Rating\n2024-01-01,Ok,2001,u,4\n2024-01-02,Bad,\n",
            "ratings.csv",
            "ratings.csv line 3: expected 5 fields, found 3",
        ),
        (
            'Date,Name,Year,Letterboxd URI,Rating\n2024-01-01,"Open quote,2001,u,4\n',
            "ratings.csv",
            "ratings.csv line",
        ),
        ("Title;Year\nFoo;2001\n", "list.csv", "list.csv line 1: unknown columns"),
        (
            '{"history": [\n{"watched_at": 1,}\n]}',
            "trakt.json",
            "trakt.json line 2: not valid JSON",
        ),
        (b"PK\x03\x04 not really a zip", "export.zip", "not a readable ZIP file"),
        (b"Date,Name,Year,Letterboxd URI,Rating\n\xff\xfe,x\n", "ratings.csv", "line 2: not UTF-8"),
    ],
)
@pytest.mark.usefixtures("letterboxd_catalogue")
def test_a_malformed_file_is_a_400_naming_the_line_and_stores_nothing(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    content: str | bytes,
    filename: str,
    where: str,
) -> None:
    response = upload(client, headers, content, filename)

    body = assert_problem(response, 400, "malformed_import")
    assert where in body["detail"]
    for model in (Import, Rating, WatchHistory, WatchlistEntry, Favorite):
        assert count_rows(app, model) == 0


def test_a_named_source_that_does_not_fit_the_file_is_refused(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = upload(client, headers, LETTERBOXD_RATINGS, "ratings.csv", source="imdb")

    body = assert_problem(response, 400, "malformed_import")
    assert "looks like a letterboxd export, not imdb" in body["detail"]


def test_a_file_over_the_size_limit_is_a_413(
    app: Flask, client: FlaskClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 200)
    big = LETTERBOXD_RATINGS + "2024-01-09,Padding,2001,u,3\n" * 10

    response = upload(client, headers, big, "ratings.csv")

    assert_problem(response, 413)
    assert count_rows(app, Import) == 0


@pytest.mark.usefixtures("letterboxd_catalogue")
def test_a_file_larger_than_max_content_length_but_within_the_import_limit_is_taken(
    app: Flask, client: FlaskClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 300)
    big = LETTERBOXD_RATINGS + "2024-01-09,Unknown Padding,2001,u,3\n" * 20
    assert len(big) > 300

    assert upload(client, headers, big, "ratings.csv").status_code == 201


def test_uploading_needs_a_token_and_a_file(client: FlaskClient, headers: dict[str, str]) -> None:
    assert_problem(client.post(IMPORTS, data={}), 401)
    body = assert_problem(
        client.post(IMPORTS, headers=headers, data={}, content_type="multipart/form-data"), 400
    )
    assert "file" in body["errors"]


# --- reading an import ----------------------------------------------------------------------


@pytest.mark.usefixtures("letterboxd_catalogue")
def test_an_import_is_readable_by_its_owner_only(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    created = upload(client, headers, LETTERBOXD_RATINGS, "ratings.csv").get_json()

    mine = client.get(f"{IMPORTS}{created['id']}/", headers=headers)
    assert mine.status_code == 200
    assert mine.get_json() == created

    stranger = auth_headers(app, make_user(app))
    assert_problem(
        client.get(f"{IMPORTS}{created['id']}/", headers=stranger), 404, "import_not_found"
    )
