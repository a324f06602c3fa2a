"""MovieLens "latest" folders: reading ratings.csv, movies.csv and links.csv into plain data.

Pure Python and numpy: the offline evaluation reads a folder with this and no database.
recommendation.movielens_import writes what it reads into the database.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from app.services.demo_data import DEMO_GENRES

# MovieLens genre -> TMDb genre id. IMAX and "(no genres listed)" map to nothing.
MOVIELENS_GENRES: dict[str, int] = {
    "Action": 28,
    "Adventure": 12,
    "Animation": 16,
    "Children": 10751,
    "Comedy": 35,
    "Crime": 80,
    "Documentary": 99,
    "Drama": 18,
    "Fantasy": 14,
    "Film-Noir": 80,
    "Horror": 27,
    "Musical": 10402,
    "Mystery": 9648,
    "Romance": 10749,
    "Sci-Fi": 878,
    "Thriller": 53,
    "War": 10752,
    "Western": 37,
}
UNMAPPED_GENRES = frozenset({"IMAX", "(no genres listed)"})
# TMDb's names for its genre ids (what /genre/movie/list answers).
TMDB_GENRE_NAMES: dict[int, str] = {genre["id"]: genre["name"] for genre in DEMO_GENRES}

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")
# "Matrix, The" -> "The Matrix": MovieLens moves leading articles to the end.
# Also before an alternative title in brackets: "Good, the Bad and the Ugly, The (Buono, ...)".
_TRAILING_ARTICLE = re.compile(r"^(?P<title>.+?), (?P<article>The|A|An)(?P<alternative> \(.*\))?$")


class MovieLensFormatError(ValueError):
    """A MovieLens file is missing, or a row cannot be read; the message names file and line."""


@dataclass(frozen=True)
class MovieLensMovie:
    movie_id: int
    title: str
    year: int | None
    genre_tmdb_ids: tuple[int, ...]

    @property
    def release_date(self) -> date | None:
        return date(self.year, 1, 1) if self.year else None


@dataclass(frozen=True, eq=False)
class MovieLensRatings:
    """Parallel arrays, one entry per ratings.csv row; ratings already on the 1-10 scale."""

    user_ids: np.ndarray
    movie_ids: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return int(self.user_ids.size)


@dataclass(frozen=True)
class MovieLensData:
    movies: dict[int, MovieLensMovie]
    links: dict[int, int]  # movieId -> tmdbId, for the movies that have one
    ratings: MovieLensRatings


def parse_title(raw: str) -> tuple[str, int | None]:
    """("The Matrix", 1999) from "Matrix, The (1999)"; the year is None when absent."""
    text = raw.strip()
    year: int | None = None
    match = _TITLE_YEAR.match(text)
    if match:
        text, year = match.group("title").strip(), int(match.group("year"))
    article = _TRAILING_ARTICLE.match(text)
    if article:
        alternative = article.group("alternative") or ""
        text = f"{article.group('article')} {article.group('title')}{alternative}"
    return text or raw.strip(), year


def map_genres(raw: str) -> tuple[int, ...]:
    """TMDb genre ids for a MovieLens "A|B|C" genre list (unknown names are an error)."""
    ids: list[int] = []
    for name in raw.split("|"):
        name = name.strip()
        if not name or name in UNMAPPED_GENRES:
            continue
        if name not in MOVIELENS_GENRES:
            raise ValueError(f"unknown MovieLens genre {name!r}")
        if MOVIELENS_GENRES[name] not in ids:
            ids.append(MOVIELENS_GENRES[name])
    return tuple(ids)


def rating_to_scale(stars: float) -> int:
    """0.5-5 stars to our 1-10 integers: twice the stars (0.5 -> 1, 5.0 -> 10)."""
    if not 0.5 <= stars <= 5.0:
        raise ValueError(f"rating {stars} is outside 0.5-5.0")
    return round(stars * 2)  # 0.5-5.0 doubles to 1-10: the ratings table's whole range


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise MovieLensFormatError(f"{path.name} is missing from {path.parent}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise MovieLensFormatError(f"{path.name} lacks the column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row


def _fail(path: Path, line: int, error: Exception) -> MovieLensFormatError:
    return MovieLensFormatError(f"{path.name}, line {line}: {error}")


def read_movies(directory: Path) -> dict[int, MovieLensMovie]:
    path = directory / "movies.csv"
    movies: dict[int, MovieLensMovie] = {}
    for line, row in _rows(path, ("movieId", "title", "genres")):
        try:
            movie_id = int(row["movieId"])
            title, year = parse_title(row["title"] or "")
            if not title:
                raise ValueError("empty title")
            movies[movie_id] = MovieLensMovie(movie_id, title, year, map_genres(row["genres"]))
        except (TypeError, ValueError) as error:
            raise _fail(path, line, error) from None
    return movies


def read_links(directory: Path) -> dict[int, int]:
    """movieId -> tmdbId for the rows that carry a tmdbId."""
    path = directory / "links.csv"
    links: dict[int, int] = {}
    for line, row in _rows(path, ("movieId", "tmdbId")):
        try:
            tmdb_id = (row["tmdbId"] or "").strip()
            if tmdb_id:
                links[int(row["movieId"])] = int(tmdb_id)
        except (TypeError, ValueError) as error:
            raise _fail(path, line, error) from None
    return links


def read_ratings(directory: Path) -> MovieLensRatings:
    path = directory / "ratings.csv"
    users: list[int] = []
    movies: list[int] = []
    ratings: list[int] = []
    timestamps: list[int] = []
    for line, row in _rows(path, ("userId", "movieId", "rating", "timestamp")):
        try:
            users.append(int(row["userId"]))
            movies.append(int(row["movieId"]))
            ratings.append(rating_to_scale(float(row["rating"])))
            timestamps.append(int(row["timestamp"]))
        except (TypeError, ValueError) as error:
            raise _fail(path, line, error) from None
    return MovieLensRatings(
        user_ids=np.asarray(users, dtype=np.int64),
        movie_ids=np.asarray(movies, dtype=np.int64),
        ratings=np.asarray(ratings, dtype=np.int64),
        timestamps=np.asarray(timestamps, dtype=np.int64),
    )


def read_movielens(directory: Path) -> MovieLensData:
    """All three files, validated; MovieLensFormatError names the first bad row."""
    directory = Path(directory)
    return MovieLensData(
        movies=read_movies(directory),
        links=read_links(directory),
        ratings=read_ratings(directory),
    )
