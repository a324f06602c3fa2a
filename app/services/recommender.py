"""The recommendation engine's front door: the pipeline, step by step, over the whole catalogue.

    load signals   recommendation.loading / .state   the catalogue arrays (cached), the current
                                                      model version (loaded, never trained
                                                      here), the user's signals (fixed queries)
    score          recommendation.signals / .scoring  0..1 signals per movie, weighted sum
    rank           recommendation.ranking             best first, padding after the personal
    diversify      recommendation.ranking             at most 3 in a row share a top genre
    explain        recommendation.explanations        type and sentence of each result

`rank_for_user` runs the last four on arrays, without a database: the offline evaluation
(recommendation.evaluation) and the benchmarks run exactly that code. Stored batches,
feedback and staleness are in recommendation.batches, .feedback and .staleness.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import current_app

from app.errors import NotFound
from app.models import ItemModelVersion
from app.services.catalogue import get_movie
from app.services.catalogue_cache import KeptPage, LocalPages, generation
from app.services.pagination import Page
from app.services.recommendation import loading, model_versions, state
from app.services.recommendation.filters import RecommendationFilters
from app.services.recommendation.ranking import (
    DEFAULT_SERVING,
    MAX_SAME_GENRE_RUN,
    Ranking,
    RecommendedMovie,
    rank_for_user,
)
from app.services.recommendation.scoring import Weights
from app.services.recommendation.shown import ShownMovie, movie_summaries
from app.services.recommendation.similar import rank_similar
from app.services.recommendation.state import reset_caches

__all__ = [
    "RecommendedMovie",
    "SimilarMovie",
    "recommend_filtered",
    "recommend_for_user",
    "reset_caches",
    "similar_movies",
    "similar_movies_page",
    "today_utc",
    "train_model_version",
    "warm_caches",
]


@dataclass(frozen=True)
class SimilarMovie:
    movie: ShownMovie
    score: float
    confidence: float
    recommendation_type: str
    explanation: str


def today_utc() -> date:
    return datetime.now(UTC).date()


def warm_caches() -> None:
    """Load what the first recommendation or similar-movies request would otherwise build:
    the catalogue arrays, the current model version and its alignment to them, and the
    overview vectors. Never trains."""
    catalogue, _ = state.current_catalogue(check=True)
    state.served_model(check=True)
    state.current_similarity(catalogue)
    state.overview_vectors(catalogue)


def recommend_for_user(user_id: int, limit: int = 20) -> list[RecommendedMovie]:
    """Score the whole catalogue for one user; diversified, padded, cold start handled.

    Reads the database (a fixed handful of queries whatever the catalogue size), writes
    nothing. Raises NotFound for an unknown user.
    """
    return recommend_filtered(user_id, limit, RecommendationFilters()).results


def recommend_filtered(user_id: int, limit: int, filters: RecommendationFilters) -> Ranking:
    """`recommend_for_user` among the movies that pass `filters` (applied before ranking and
    truncation), and how many passed."""
    catalogue, _ = state.current_catalogue()
    similarity = state.current_similarity(catalogue)
    # A model trained with a tuned configuration brings its blend, diversity and serving.
    model = state.served_item_model()
    serving = model.serving if model is not None else DEFAULT_SERVING
    user = loading.load_user_signals(user_id, catalogue, graded=serving.graded_seeds)
    weights = Weights.from_config(current_app.config)
    if model is not None and model.weights is not None:
        weights = model.weights
    max_run = model.max_same_genre_run if model is not None else MAX_SAME_GENRE_RUN
    return rank_for_user(
        catalogue,
        user,
        weights,
        today_utc(),
        limit,
        similarity,
        filters,
        max_same_genre_run=max_run,
        released_only=serving.released_only,
        exposure=state.current_exposure(catalogue),
    )


def similar_movies(movie_id: int, limit: int = 10) -> list[RecommendedMovie]:
    """Movies like this one: learned item similarity, genre overlap and overview text.

    Raises NotFound for an unknown (or removed) movie.
    """
    get_movie(movie_id)
    catalogue, _ = state.current_catalogue()
    position = int(catalogue.positions([movie_id])[0])
    if position < 0:  # newer than the cached arrays: look again now
        catalogue, _ = state.current_catalogue(check=True)
        position = int(catalogue.positions([movie_id])[0])
    if position < 0:  # removed between the two queries
        raise NotFound(f"Movie {movie_id} does not exist.", code="movie_not_found")
    similarity = state.current_similarity(catalogue)
    vectors = state.overview_vectors(catalogue)
    return rank_similar(catalogue, position, limit, similarity, vectors)


# The similar-movie pages this process served last (see `similar_movies_page`).
similar_pages: LocalPages[tuple[float, Page[SimilarMovie]]] = LocalPages(size=1024)


def similar_movies_page(
    movie_id: int, *, limit: int = 10, page: int = 1, page_size: int = 20
) -> KeptPage[SimilarMovie]:
    """Movies like `movie_id` (NotFound for an unknown one), best first, one page at a time.

    The same for every caller until the catalogue, its arrays or the model change: with
    the catalogue cache on, a page is kept in this process under a key naming all three
    (a removed or edited movie moves the catalogue's generation), so a repeated page costs
    no query and no ranking. Pages that raise NotFound are not kept."""
    key = _similar_page_key(movie_id, limit, page, page_size)
    seconds = current_app.config["CATALOGUE_PAGE_CACHE_SECONDS"]
    cached = similar_pages.get(key, seconds) if key else None
    if cached is not None:
        return KeptPage(cached[1], key, cached[0])
    made_at = time.time()
    built = _build_similar_movies_page(movie_id, limit=limit, page=page, page_size=page_size)
    if key:
        similar_pages.put(key, (made_at, built))
    return KeptPage(built, key, made_at)


def _similar_page_key(movie_id: int, limit: int, page: int, page_size: int) -> str | None:
    if current_app.config["CATALOGUE_PAGE_CACHE_SECONDS"] <= 0:
        return None
    current = generation()
    if current is None:  # the shared cache is down: a change could not retire the page
        return None
    catalogue, _ = state.current_catalogue()
    served = state.served_model()
    model = 0 if served is None else served.model.version
    return f"{current}:{catalogue.version}:{model}:{movie_id}:{limit}:{page}:{page_size}"


def _build_similar_movies_page(
    movie_id: int, *, limit: int, page: int, page_size: int
) -> Page[SimilarMovie]:
    results = similar_movies(movie_id, limit=limit)[:limit]
    count = len(results)
    last_page = max(1, -(-count // page_size))
    if page > last_page:
        raise NotFound(
            f"Page {page} does not exist: there are {last_page} page(s) of {page_size}.",
            code="page_not_found",
        )
    chunk = results[(page - 1) * page_size : page * page_size]
    movies = movie_summaries([result.movie_id for result in chunk])
    items = [
        SimilarMovie(
            movie=movies[result.movie_id],
            score=result.score,
            confidence=result.confidence,
            recommendation_type=result.recommendation_type,
            explanation=result.explanation,
        )
        for result in chunk
        if result.movie_id in movies
    ]
    return Page(items=items, count=count, page=page, page_size=page_size)


def train_model_version() -> ItemModelVersion:
    """Train and store a new item-model version, and make it current (jobs and the CLI only:
    web workers never train, they pick the new version up within
    RECOMMENDER_MODEL_CHECK_SECONDS)."""
    return model_versions.train_model_version()
