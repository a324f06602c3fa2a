"""Finding the catalogue movie an export row names: by TMDb id, by IMDb id, then by title
and year (the local catalogue first, then TMDb's search). Movies found only at TMDb are
added to the catalogue through the catalogue's own upsert."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select

from app.errors import NotFound
from app.extensions import db
from app.models import Movie
from app.services import catalogue
from app.services.imports.formats import MovieRef
from app.services.tmdb import tmdb_client


@dataclass(frozen=True)
class Match:
    movie_id: int | None
    added_to_catalogue: bool = False
    reason: str = ""


@dataclass
class MovieMatcher:
    """Matches rows to movies, remembering each answer for the rest of the import."""

    answers: dict[tuple[Any, ...], Match] = field(default_factory=dict)

    def match(self, ref: MovieRef) -> Match:
        answer = self.answers.get(ref.key)
        if answer is None:
            answer = find_movie(ref)
            self.answers[ref.key] = answer
        return answer


def tmdb_configured() -> bool:
    return bool(current_app.config.get("TMDB_API_KEY", "").strip())


def find_movie(ref: MovieRef) -> Match:
    """The movie `ref` names; TMDb failures (UpstreamError/UpstreamUnavailable) propagate,
    so the import stops and can be resumed rather than reporting good rows as unmatched."""
    if ref.tmdb_id is not None:
        local = local_movie(Movie.tmdb_id == ref.tmdb_id)
        if local is not None:
            return Match(local)
        if tmdb_configured():
            found = movie_from_tmdb(ref.tmdb_id)
            if found is not None:
                return Match(found, added_to_catalogue=True)
    if ref.imdb_id is not None:
        local = local_movie(Movie.imdb_id == ref.imdb_id)
        if local is not None:
            return Match(local)
        if tmdb_configured():
            for result in tmdb_client().find_by_imdb_id(ref.imdb_id):
                match = catalogue_match(result["id"])
                if match is not None:
                    return match
    local = local_by_title(ref)
    if local is not None:
        return Match(local)
    if tmdb_configured():
        match = search_tmdb(ref)
        if match is not None:
            return match
    reason = "no movie with this title and year in the catalogue or on TMDb"
    if not tmdb_configured():
        reason = "no movie with this title and year in the catalogue (TMDb is not configured)"
    return Match(None, reason=reason)


def local_movie(condition: Any) -> int | None:
    return db.session.scalar(
        select(Movie.id).where(condition, Movie.deleted_at.is_(None)).order_by(Movie.id).limit(1)
    )


def catalogue_match(tmdb_id: int) -> Match | None:
    local = local_movie(Movie.tmdb_id == tmdb_id)
    if local is not None:
        return Match(local)
    found = movie_from_tmdb(tmdb_id)
    return None if found is None else Match(found, added_to_catalogue=True)


def movie_from_tmdb(tmdb_id: int) -> int | None:
    """The local id of a TMDb movie, fetched and added to the catalogue; None if TMDb has none."""
    try:
        return catalogue.ensure_movie_by_tmdb_id(tmdb_id).id
    except NotFound:
        return None


def local_by_title(ref: MovieRef) -> int | None:
    """A catalogue movie of this title (or original title): the exact year first, then a
    year either side (release years differ between sites), then, with no year, the most
    popular."""
    title = ref.title
    candidates = db.session.execute(
        select(Movie.id, Movie.release_date, Movie.popularity).where(
            Movie.deleted_at.is_(None),
            or_(
                Movie.title == title,
                Movie.original_title == title,
                func.lower(Movie.title) == title.lower(),
                func.lower(Movie.original_title) == title.lower(),
            ),
        )
    ).all()
    return best_by_year(
        [
            (movie_id, released.year if released else None, popularity)
            for movie_id, released, popularity in candidates
        ],
        ref.year,
    )


def best_by_year(candidates: list[tuple[Any, int | None, float]], year: int | None) -> Any:
    """The candidate (id, year, popularity) of the exact year, else a year off, else (when
    the row gives no year) the most popular; None when none fits."""
    if not candidates:
        return None
    by_popularity = sorted(candidates, key=lambda item: -item[2])
    if year is None:
        return by_popularity[0][0]
    for tolerance in (0, 1):
        for candidate_id, candidate_year, _ in by_popularity:
            if candidate_year is not None and abs(candidate_year - year) <= tolerance:
                return candidate_id
    return None


def search_tmdb(ref: MovieRef) -> Match | None:
    """TMDb's search: the title in the row's year, then (a year off) without the year."""
    client = tmdb_client()
    wanted = ref.title.casefold()
    attempts = [ref.year, None] if ref.year is not None else [None]
    for year in attempts:
        results = client.search(ref.title, year=year).results
        exact = [
            (item["id"], release_year(item), float(item.get("popularity") or 0))
            for item in results
            if wanted
            in {
                str(item.get("title", "")).casefold(),
                str(item.get("original_title", "")).casefold(),
            }
        ]
        tmdb_id = best_by_year(exact, ref.year)
        if tmdb_id is not None:
            return catalogue_match(tmdb_id)
    return None


def release_year(item: dict[str, Any]) -> int | None:
    text = str(item.get("release_date") or "")
    return int(text[:4]) if text[:4].isdigit() else None
