"""The recommendation engine: a user's signals from the database, scored over the whole catalogue.

The arithmetic lives in app.services.recommendation (catalogue arrays, signals, scoring,
ranking, explanations, similar movies) and never touches the database, so the offline
evaluation runs exactly this code. This module is the loading half: it reads a user's signals
with a fixed number of queries, whatever the catalogue size, and keeps the catalogue's arrays
cached in the process until a cheap fingerprint query says the catalogue changed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import scipy.sparse as sp
from flask import current_app, has_request_context
from sqlalchemy import Integer, bindparam, func, literal, select, true, union_all

from app.errors import NotFound
from app.extensions import db
from app.models import (
    Favorite,
    Genre,
    Movie,
    Rating,
    RecommendationFeedback,
    User,
    UserProfile,
    WatchHistory,
    movie_genres,
)
from app.services.catalog import get_movie
from app.services.item_model import interaction_watermark, model_store
from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.item_model import ItemModel, ItemModelStats, align_similarity
from app.services.recommendation.ranking import RecommendedMovie, rank_for_user
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import (
    DISMISSED,
    FAVOURITE,
    LIKED_FEEDBACK,
    RATING,
    WATCHED,
    UserSignals,
    user_signals_from_rows,
)
from app.services.recommendation.similar import build_overview_vectors, rank_similar


class _EngineState:
    """Per-app caches, all derived from the database and rebuilt on demand."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fingerprint: tuple[Any, ...] | None = None
        self.catalogue: Catalogue | None = None
        self.aligned: tuple[int, int, sp.csr_matrix] | None = None  # model and catalogue versions
        self.overviews: tuple[int, sp.csr_matrix] | None = None  # catalogue version, vectors
        self.watermark = 0
        self.checked_at = -math.inf  # time.monotonic() of the last fingerprint query


def _state() -> _EngineState:
    state = current_app.extensions.get("recommender_state")
    if state is None:
        state = current_app.extensions.setdefault("recommender_state", _EngineState())
    return state


def reset_caches() -> None:
    """Forget the cached catalogue and item model of the current app (tests, after imports)."""
    current_app.extensions.pop("recommender_state", None)
    store = current_app.extensions.pop("item_model_store", None)
    if store is not None:
        store.wait()


def _fingerprint_statement():  # type: ignore[no-untyped-def]
    """One statement: what identifies the catalogue's state, and the interaction watermark."""
    movies = Movie.__table__.c
    # One pass over each table: counts, the latest change, and a genre-id sum that moves when
    # a movie's genre is swapped for another (a relink that keeps the count).
    movie_state = select(
        func.count().label("movies"),
        func.max(movies.updated_at).label("updated"),
        func.count(movies.deleted_at).label("removed"),
    ).subquery()
    link_state = select(
        func.count().label("links"),
        func.coalesce(func.sum(movie_genres.c.genre_id), 0).label("genre_sum"),
    ).subquery()
    return select(
        movie_state,
        link_state,
        select(func.count()).select_from(Genre.__table__).scalar_subquery(),
        interaction_watermark(),
    ).select_from(movie_state.join(link_state, true()))


def _load_catalogue() -> Catalogue:
    """Three queries: the live movies, their genre links and the genres."""
    rows = db.session.execute(
        select(
            Movie.id,
            Movie.tmdb_id,
            Movie.title,
            Movie.vote_average,
            Movie.vote_count,
            Movie.popularity,
            Movie.release_date,
            Movie.adult,
        ).where(Movie.deleted_at.is_(None))
    ).all()
    links = db.session.execute(
        select(movie_genres.c.movie_id, Genre.tmdb_id).join(
            Genre, Genre.id == movie_genres.c.genre_id
        )
    ).all()
    genres = db.session.execute(select(Genre.tmdb_id, Genre.name).order_by(Genre.tmdb_id)).all()
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in range(8)]
    return build_catalogue(
        movie_ids=columns[0],
        tmdb_ids=columns[1],
        titles=columns[2],
        vote_average=[value or 0.0 for value in columns[3]],
        vote_count=[value or 0 for value in columns[4]],
        popularity=[value or 0.0 for value in columns[5]],
        release_dates=columns[6],
        adult=[bool(value) for value in columns[7]],
        genre_links=[(movie_id, genre) for movie_id, genre in links],
        genre_tmdb_ids=[tmdb_id for tmdb_id, _ in genres],
        genre_names=[name for _, name in genres],
    )


def _current_catalogue(state: _EngineState, *, check: bool = False) -> tuple[Catalogue, int]:
    """The cached catalogue, reloaded when its fingerprint moved; and the interaction watermark.

    The fingerprint is read at most once per RECOMMENDER_CATALOGUE_CHECK_SECONDS (0: every
    call); in between, the cached arrays and watermark serve without a query. `check` reads it
    now whatever the time.
    """
    interval = float(current_app.config["RECOMMENDER_CATALOGUE_CHECK_SECONDS"])
    catalogue = state.catalogue
    if not check and catalogue is not None and time.monotonic() - state.checked_at < interval:
        return catalogue, state.watermark
    *fingerprint, watermark = db.session.execute(_fingerprint_statement()).one()
    key = tuple(fingerprint)
    with state.lock:
        if state.catalogue is None or state.fingerprint != key:
            state.catalogue = _load_catalogue()
            state.fingerprint = key
        state.watermark = int(watermark or 0)
        state.checked_at = time.monotonic()
        return state.catalogue, state.watermark


def _current_model(watermark: int) -> ItemModel | None:
    """The cached model; a rebuild is due after RECOMMENDER_REBUILD_AFTER new interactions.

    Inside a request the rebuild runs in a background thread while the old model (or none)
    keeps serving; elsewhere (CLI, jobs) nobody waits on a page, so it runs here and now.
    """
    store = model_store()
    if store.needs_rebuild(watermark, current_app.config["RECOMMENDER_REBUILD_AFTER"]):
        if has_request_context():
            store.rebuild_in_background(current_app._get_current_object())  # type: ignore[attr-defined]
        else:
            store.rebuild_now(db.session)
    return store.model


def _aligned_similarity(
    state: _EngineState, catalogue: Catalogue, model: ItemModel | None
) -> sp.csr_matrix | None:
    if model is None:
        return None
    cached = state.aligned
    if cached is not None and cached[0] == model.version and cached[1] == catalogue.version:
        return cached[2]
    aligned = align_similarity(model, catalogue)
    state.aligned = (model.version, catalogue.version, aligned)
    return aligned


@cache
def _user_signals_statement():  # type: ignore[no-untyped-def]
    """One UNION ALL statement: (kind, movie_id, rating) of everything the user told us.

    Built once (bound by the `user_id` parameter): building it costs more than running it.
    """
    user_id = bindparam("user_id", type_=Integer)
    dismissed_feedback = ("dislike", "not_interested")
    return union_all(
        select(literal(FAVOURITE), Favorite.movie_id, literal(0)).where(
            Favorite.user_id == user_id
        ),
        select(literal(RATING), Rating.movie_id, Rating.rating).where(Rating.user_id == user_id),
        select(literal(DISMISSED), RecommendationFeedback.movie_id, literal(0)).where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.feedback_type.in_(dismissed_feedback),
        ),
        select(literal(LIKED_FEEDBACK), RecommendationFeedback.movie_id, literal(0)).where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.feedback_type == "like",
        ),
        select(literal(WATCHED), WatchHistory.movie_id, literal(0))
        .where(WatchHistory.user_id == user_id)
        .distinct(),
    )


@cache
def _profile_statement():  # type: ignore[no-untyped-def]
    return (
        select(User.id, UserProfile.favorite_genres, UserProfile.mature_content)
        .outerjoin(UserProfile, UserProfile.user_id == User.id)
        .where(User.id == bindparam("user_id", type_=Integer))
    )


def load_user_signals(user_id: int, catalogue: Catalogue) -> UserSignals:
    """Two queries: the user's profile, and everything they liked, rated, dismissed or saw."""
    parameters = {"user_id": user_id}
    profile = db.session.execute(_profile_statement(), parameters).one_or_none()
    if profile is None:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    rows = db.session.execute(_user_signals_statement(), parameters).tuples().all()
    return user_signals_from_rows(
        catalogue,
        rows,
        favourite_genre_tmdb_ids=profile.favorite_genres or (),
        mature_content=bool(profile.mature_content),
    )


def today_utc() -> date:
    return datetime.now(UTC).date()


def recommend_for_user(user_id: int, limit: int = 20) -> list[RecommendedMovie]:
    """Score the whole catalogue for one user; diversified, padded, cold start handled.

    Reads the database (a fixed handful of queries whatever the catalogue size), writes
    nothing. Raises NotFound for an unknown user.
    """
    state = _state()
    catalogue, watermark = _current_catalogue(state)
    similarity = _aligned_similarity(state, catalogue, _current_model(watermark))
    user = load_user_signals(user_id, catalogue)
    weights = Weights.from_config(current_app.config)
    return rank_for_user(catalogue, user, weights, today_utc(), limit, similarity)


def _overview_vectors(state: _EngineState, catalogue: Catalogue) -> sp.csr_matrix:
    cached = state.overviews
    if cached is not None and cached[0] == catalogue.version:
        return cached[1]
    texts = dict(
        db.session.execute(select(Movie.id, Movie.overview).where(Movie.deleted_at.is_(None)))
        .tuples()
        .all()
    )
    vectors = build_overview_vectors([texts.get(int(m)) or "" for m in catalogue.movie_ids])
    state.overviews = (catalogue.version, vectors)
    return vectors


def similar_movies(movie_id: int, limit: int = 10) -> list[RecommendedMovie]:
    """Movies like this one: learned item similarity, genre overlap and overview text.

    Raises NotFound for an unknown (or removed) movie.
    """
    get_movie(movie_id)
    state = _state()
    catalogue, watermark = _current_catalogue(state)
    position = int(catalogue.positions([movie_id])[0])
    if position < 0:  # newer than the cached arrays: look again now
        catalogue, watermark = _current_catalogue(state, check=True)
        position = int(catalogue.positions([movie_id])[0])
    if position < 0:  # removed between the two queries
        raise NotFound(f"Movie {movie_id} does not exist.", code="movie_not_found")
    similarity = _aligned_similarity(state, catalogue, _current_model(watermark))
    vectors = _overview_vectors(state, catalogue)
    return rank_similar(catalogue, position, limit, similarity, vectors)


def rebuild_item_model() -> ItemModelStats:
    """Learn item-item similarity from every user's positive interactions now."""
    return model_store().rebuild_now(db.session).stats
