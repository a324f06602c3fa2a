"""A built-in demo catalogue of well-known films (facts only), for `flask seed-demo`.

The films are the rows of `demo_movies.csv`; each is read into a record shaped like a TMDb
movie-details payload, cut down to the fields the catalogue stores. Ids, titles, dates,
runtimes, genres and languages are TMDb's; popularity and votes are snapshots, so they drift
from the live site. No overviews or taglines are included.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

# TMDb's movie genres: (tmdb genre id, name) -- all 19 of them.
DEMO_GENRES: list[dict[str, Any]] = [
    {"id": 28, "name": "Action"},
    {"id": 12, "name": "Adventure"},
    {"id": 16, "name": "Animation"},
    {"id": 35, "name": "Comedy"},
    {"id": 80, "name": "Crime"},
    {"id": 99, "name": "Documentary"},
    {"id": 18, "name": "Drama"},
    {"id": 10751, "name": "Family"},
    {"id": 14, "name": "Fantasy"},
    {"id": 36, "name": "History"},
    {"id": 27, "name": "Horror"},
    {"id": 10402, "name": "Music"},
    {"id": 9648, "name": "Mystery"},
    {"id": 10749, "name": "Romance"},
    {"id": 878, "name": "Science Fiction"},
    {"id": 10770, "name": "TV Movie"},
    {"id": 53, "name": "Thriller"},
    {"id": 10752, "name": "War"},
    {"id": 37, "name": "Western"},
]

_GENRE_BY_NAME: dict[str, dict[str, Any]] = {genre["name"]: genre for genre in DEMO_GENRES}


def _film(
    tmdb_id: int,
    title: str,
    release_date: str,
    runtime: int,
    genres: list[str],
    popularity: float,
    vote_average: float,
    vote_count: int,
    original_language: str,
    original_title: str | None = None,
) -> dict[str, Any]:
    """One film as a TMDb-details-shaped dict; `original_title` defaults to `title`."""
    return {
        "id": tmdb_id,
        "title": title,
        "original_title": original_title if original_title is not None else title,
        "release_date": release_date,
        "runtime": runtime,
        "genres": [dict(_GENRE_BY_NAME[name]) for name in genres],
        "popularity": popularity,
        "vote_average": vote_average,
        "vote_count": vote_count,
        "original_language": original_language,
        "adult": False,
    }


# One film per row of demo_movies.csv (genres by name, separated by "|"; original_title empty
# when it is the title; `section` groups the rows for the reader only).
DEMO_MOVIES_FILE = Path(__file__).with_name("demo_movies.csv")


def _read_films(path: Path) -> list[dict[str, Any]]:
    """The films of a demo catalogue file, each shaped like a TMDb details payload."""
    with path.open(encoding="utf-8", newline="") as rows:
        return [
            _film(
                int(row["tmdb_id"]),
                row["title"],
                row["release_date"],
                int(row["runtime"]),
                row["genres"].split("|"),
                float(row["popularity"]),
                float(row["vote_average"]),
                int(row["vote_count"]),
                row["original_language"],
                row["original_title"] or None,
            )
            for row in csv.DictReader(rows)
        ]


DEMO_MOVIES: list[dict[str, Any]] = _read_films(DEMO_MOVIES_FILE)
