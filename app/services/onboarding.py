"""The onboarding list a new user rates before their first recommendations: loads the
catalogue, the item model and what the user already has; the selection itself is
`recommendation.onboarding`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import Integer, bindparam, select, union
from sqlalchemy.orm import selectinload

from app.errors import NotFound
from app.extensions import db
from app.models import (
    Favorite,
    Genre,
    Movie,
    Rating,
    RecommendationFeedback,
    WatchHistory,
    WatchlistEntry,
)
from app.services.recommendation import loading, state
from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.onboarding import (
    DEFAULT_SIZE,
    UNKNOWN,
    describe_pick,
    select_onboarding,
)


@dataclass(frozen=True)
class OnboardingMovie:
    """A film of the onboarding list and why it is there."""

    rank: int
    movie: Movie
    genre: Genre | None  # the genre it stands for in the list
    decade: int | None  # first year of its decade (1990)
    explanation: str


def owned_movies_statement():  # type: ignore[no-untyped-def]
    """Every movie the user already told us about: favourites, ratings, watchlist, watch
    history and feedback of any kind (a dismissed film, or one already judged)."""
    user_id = bindparam("user_id", type_=Integer)
    return union(
        *(
            select(model.movie_id).where(model.user_id == user_id)
            for model in (
                Favorite,
                Rating,
                WatchlistEntry,
                WatchHistory,
                RecommendationFeedback,
            )
        )
    )


def list_onboarding_movies(user_id: int, size: int = DEFAULT_SIZE) -> list[OnboardingMovie]:
    """About `size` well-known films that tell tastes apart, none that the user already has.

    Raises NotFound for an unknown user. Reads only.
    """
    profile = db.session.execute(loading.profile_statement(), {"user_id": user_id}).one_or_none()
    if profile is None:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    catalogue, _ = state.current_catalogue()
    candidates = candidate_mask(catalogue, user_id, mature_content=bool(profile.mature_content))
    similarity = state.current_similarity(catalogue)
    picks = select_onboarding(catalogue, candidates, similarity, size)
    movies = load_movies([pick.movie_id for pick in picks])
    results: list[OnboardingMovie] = []
    for pick in picks:
        movie = movies.get(pick.movie_id)
        if movie is None:  # removed since the catalogue arrays were cached
            continue
        genre_tmdb_id = int(catalogue.genre_tmdb_ids[pick.genre]) if pick.genre != UNKNOWN else None
        results.append(
            OnboardingMovie(
                rank=len(results) + 1,
                movie=movie,
                genre=next((g for g in movie.genres if g.tmdb_id == genre_tmdb_id), None),
                decade=pick.decade if pick.decade != UNKNOWN else None,
                explanation=describe_pick(pick, catalogue.genre_names),
            )
        )
    return results


def candidate_mask(catalogue: Catalogue, user_id: int, *, mature_content: bool) -> np.ndarray:
    """Catalogue positions the user may be shown: not already theirs, adult only if allowed."""
    candidates = np.ones(catalogue.size, dtype=bool)
    if not mature_content:
        candidates &= ~catalogue.adult
    owned = db.session.scalars(owned_movies_statement(), {"user_id": user_id}).all()
    positions = catalogue.positions(list(owned))
    candidates[positions[positions >= 0]] = False
    return candidates


def load_movies(movie_ids: list[int]) -> dict[int, Movie]:
    """The live movies among `movie_ids`, with their genres, by id (two queries; none for [])."""
    if not movie_ids:
        return {}
    statement = (
        select(Movie)
        .where(Movie.id.in_(movie_ids), Movie.deleted_at.is_(None))
        .options(selectinload(Movie.genres))
    )
    return {movie.id: movie for movie in db.session.scalars(statement)}
