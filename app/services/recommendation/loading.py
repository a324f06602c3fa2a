"""The SQL that feeds the engine: the catalogue and its fingerprint, one user's signals, the
overviews, and the positive interactions the item model learns from. A fixed number of
queries whatever the catalogue size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Float, Integer, bindparam, cast, func, literal, select, true, union_all
from sqlalchemy.orm import Session, scoped_session

from app.errors import NotFound
from app.extensions import db
from app.models import (
    Favorite,
    Genre,
    Movie,
    Rating,
    RecommendationFeedback,
    TunedConfiguration,
    User,
    UserProfile,
    WatchHistory,
    WatchlistEntry,
    movie_genres,
)
from app.models.recommendations import EXCLUDING_FEEDBACK
from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.exposure import ItemExposure, exposure_of_interactions
from app.services.recommendation.item_model import ItemModel, align_similarity, learn_item_model
from app.services.recommendation.signals import (
    DISMISSED,
    FAVORITE,
    LIKED_FEEDBACK,
    LIKED_RATING,
    RATING,
    WATCHED,
    WATCHLISTED,
    UserSignals,
    user_signals_from_rows,
)
from app.services.recommendation.tuning import (
    WATCHLIST,
    EngineConfiguration,
    Interactions,
    interaction_values,
)


def fingerprint_statement():  # type: ignore[no-untyped-def]
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


def load_catalogue() -> Catalogue:
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
            Movie.runtime,
            Movie.original_language,
        ).where(Movie.deleted_at.is_(None))
    ).all()
    links = db.session.execute(
        select(movie_genres.c.movie_id, Genre.tmdb_id).join(
            Genre, Genre.id == movie_genres.c.genre_id
        )
    ).all()
    genres = db.session.execute(select(Genre.tmdb_id, Genre.name).order_by(Genre.tmdb_id)).all()
    empty: list[Sequence[Any]] = [() for _ in range(10)]
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else empty
    return build_catalogue(
        movie_ids=columns[0],
        tmdb_ids=columns[1],
        titles=columns[2],
        vote_average=[value or 0.0 for value in columns[3]],
        vote_count=[value or 0 for value in columns[4]],
        popularity=[value or 0.0 for value in columns[5]],
        release_dates=columns[6],
        adult=[bool(value) for value in columns[7]],
        runtimes=columns[8],
        languages=columns[9],
        genre_links=[(movie_id, genre) for movie_id, genre in links],
        genre_tmdb_ids=[tmdb_id for tmdb_id, _ in genres],
        genre_names=[name for _, name in genres],
    )


@cache
def user_signals_statement():  # type: ignore[no-untyped-def]
    """One UNION ALL statement: (kind, movie_id, rating) of everything the user told us
    (and what is on their watchlist).

    Built once (bound by the `user_id` parameter): building it costs more than running it.
    """
    user_id = bindparam("user_id", type_=Integer)
    return union_all(
        select(literal(FAVORITE), Favorite.movie_id, literal(0)).where(Favorite.user_id == user_id),
        # As a float (exact for half steps): the arithmetic needs no Decimal.
        select(literal(RATING), Rating.movie_id, cast(Rating.rating, Float)).where(
            Rating.user_id == user_id
        ),
        select(literal(DISMISSED), RecommendationFeedback.movie_id, literal(0)).where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.feedback_type.in_(EXCLUDING_FEEDBACK),
        ),
        select(literal(LIKED_FEEDBACK), RecommendationFeedback.movie_id, literal(0)).where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.feedback_type == "like",
        ),
        select(literal(WATCHED), WatchHistory.movie_id, literal(0))
        .where(WatchHistory.user_id == user_id)
        .distinct(),
        select(literal(WATCHLISTED), WatchlistEntry.movie_id, literal(0)).where(
            WatchlistEntry.user_id == user_id
        ),
    )


@cache
def profile_statement():  # type: ignore[no-untyped-def]
    return (
        select(User.id, UserProfile.favorite_genres, UserProfile.mature_content)
        .outerjoin(UserProfile, UserProfile.user_id == User.id)
        .where(User.id == bindparam("user_id", type_=Integer))
    )


def load_user_signals(user_id: int, catalogue: Catalogue, *, graded: bool = False) -> UserSignals:
    """Two queries: the user's profile, and everything they liked, rated, dismissed or saw
    (liked ratings weighted by their value when `graded`)."""
    parameters = {"user_id": user_id}
    profile = db.session.execute(profile_statement(), parameters).one_or_none()
    if profile is None:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    rows = db.session.execute(user_signals_statement(), parameters).tuples().all()
    return user_signals_from_rows(
        catalogue,
        rows,
        favorite_genre_tmdb_ids=profile.favorite_genres or (),
        mature_content=bool(profile.mature_content),
        graded=graded,
    )


def load_overviews(catalogue: Catalogue) -> list[str]:
    """Each catalogue movie's overview, in catalogue order ("" when it has none)."""
    texts = dict(
        db.session.execute(select(Movie.id, Movie.overview).where(Movie.deleted_at.is_(None)))
        .tuples()
        .all()
    )
    return [texts.get(int(m)) or "" for m in catalogue.movie_ids]


def positive_interactions_statement():  # type: ignore[no-untyped-def]
    """(user_id, movie_id, tmdb_id, created_at) of every favourite and every rating of
    LIKED_RATING or more."""
    favourites = select(Favorite.user_id, Movie.id, Movie.tmdb_id, Favorite.created_at).join(
        Movie, Movie.id == Favorite.movie_id
    )
    liked = (
        select(Rating.user_id, Movie.id, Movie.tmdb_id, Rating.created_at)
        .join(Movie, Movie.id == Rating.movie_id)
        .where(Rating.rating >= LIKED_RATING)
    )
    return union_all(favourites, liked)


def interaction_watermark():  # type: ignore[no-untyped-def]
    """The largest favourite id plus the largest rating id: two index lookups.

    It grows by one with every favourite or rating added, so the distance between two readings
    counts the interactions added in between (the rebuild policy); a fall means rows the model
    was learned from are gone.
    """
    favorites = select(func.coalesce(func.max(Favorite.id), 0)).scalar_subquery()
    ratings = select(func.coalesce(func.max(Rating.id), 0)).scalar_subquery()
    return favorites + ratings


@dataclass(frozen=True, eq=False)
class PositiveInteractions:
    """Parallel arrays, one entry per positive interaction, and the watermark they were read at."""

    user_ids: np.ndarray  # int64
    movie_ids: np.ndarray  # int64
    tmdb_ids: np.ndarray  # int64, the item model's keys
    times: np.ndarray  # float64 POSIX seconds
    watermark: int


def load_positive_interactions(session: Session | scoped_session[Any]) -> PositiveInteractions:
    """Every positive interaction, read through `session` (two queries)."""
    watermark = int(session.scalar(select(interaction_watermark())) or 0)
    rows = session.execute(positive_interactions_statement()).all()
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return PositiveInteractions(
        user_ids=np.asarray(columns[0], dtype=np.int64),
        movie_ids=np.asarray(columns[1], dtype=np.int64),
        tmdb_ids=np.asarray(columns[2], dtype=np.int64),
        times=np.asarray([moment.timestamp() for moment in columns[3]], dtype=np.float64),
        watermark=watermark,
    )


def latest_configuration(session: Session | scoped_session[Any]) -> EngineConfiguration | None:
    """The configuration of the latest `flask recommender tune` run (None: the defaults)."""
    stored = session.scalar(
        select(TunedConfiguration.configuration).order_by(TunedConfiguration.id.desc()).limit(1)
    )
    return None if stored is None else EngineConfiguration.from_dict(stored)


def weighted_interactions_statement():  # type: ignore[no-untyped-def]
    """(user_id, tmdb_id, kind, rating, time, movie_id) of every favourite, rating, viewing
    and watchlist entry."""

    def rows(model: Any, kind: int, moment: Any, rating: Any = None):  # type: ignore[no-untyped-def]
        return select(
            model.user_id,
            Movie.tmdb_id,
            literal(kind),
            rating if rating is not None else literal(0),
            moment,
            Movie.id,
        ).join(Movie, Movie.id == model.movie_id)

    return union_all(
        rows(Favorite, FAVORITE, Favorite.created_at),
        rows(Rating, RATING, Rating.updated_at, Rating.rating),
        rows(WatchHistory, WATCHED, WatchHistory.watched_at),
        rows(WatchlistEntry, WATCHLIST, WatchlistEntry.created_at),
    )


def learn_configured(
    session: Session | scoped_session[Any], configuration: EngineConfiguration, watermark: int
) -> ItemModel:
    """Learn the model a tuned configuration chose, from the input it chose (and, for its
    exposure re-rank, count how often each film reaches users' lists with it)."""
    fetched = session.execute(weighted_interactions_statement()).all()
    # Floats: ratings come in half steps (Decimal); the ids fit a float64 exactly.
    rows = np.array([row[:4] for row in fetched], dtype=np.float64).reshape(-1, 4)
    timestamps = np.array([_seconds(row[4]) for row in fetched], dtype=np.int64)
    user_ids, tmdb_ids = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
    interactions = Interactions(
        user_ids=user_ids,
        positions=tmdb_ids,
        kinds=rows[:, 2].astype(np.int64),
        ratings=rows[:, 3],
        timestamps=timestamps,
    )
    values = interaction_values(interactions, configuration.inputs)
    used = values > 0
    model = learn_item_model(
        user_ids[used],
        tmdb_ids[used],
        watermark=watermark,
        settings=configuration.model,
        values=values[used],
        weights=configuration.weights,
        max_same_genre_run=configuration.max_same_genre_run,
        timestamps=timestamps[used],
        serving=configuration.serving,
    )
    if not configuration.serving.reranks_by_exposure:
        return model
    catalogue = load_catalogue()
    movie_ids = np.array([row[5] for row in fetched], dtype=np.int64)
    counts = exposure_of_interactions(
        catalogue,
        align_similarity(model, catalogue),
        configuration.weights,
        configuration.serving,
        configuration.max_same_genre_run,
        (user_ids, movie_ids, interactions.kinds, interactions.ratings),
        datetime.now(UTC).date(),
    )
    return replace(model, exposure=ItemExposure.from_positions(catalogue, counts))


def _seconds(moment: datetime | None) -> int:
    """POSIX seconds of a stored time (naive times are UTC); 0 when unknown."""
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
