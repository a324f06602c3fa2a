"""Offline evaluation on a MovieLens folder, in memory: the engine against two baselines.

Protocol: for each user with at least MIN_RATINGS ratings, the latest HOLDOUT_FRACTION of their
ratings (by timestamp) is held out and the rest is training data. A held-out rating of
RELEVANT_RATING or more (1-10 scale) is relevant. Every movie the user has not rated in
training is ranked. The engine runs exactly the arithmetic of app.services.recommender
(same catalogue arrays, signals, item model, diversity and padding) on metadata derived from
the files: genres from movies.csv, popularity = training ratings, vote average and count =
training mean (1-10) and count, release date = January 1 of the title's year.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.exposure import count_exposure, exposure_rerank
from app.services.recommendation.item_model import (
    align_similarity,
    learn_item_model,
    learn_similarity,
)
from app.services.recommendation.movielens import (
    TMDB_GENRE_NAMES,
    MovieLensData,
    MovieLensRatings,
    read_movielens,
)
from app.services.recommendation.ranking import (
    DEFAULT_SERVING,
    MAX_SAME_GENRE_RUN,
    rank_for_user,
)
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import (
    LIKED_RATING,
    RATING,
    RECENCY_DAYS,
    UserSignals,
    graded_liking,
)
from app.services.recommendation.tuning import (
    EngineConfiguration,
    Interactions,
    interaction_values,
)

MIN_RATINGS = 10
HOLDOUT_FRACTION = 0.2
RELEVANT_RATING = 7
RECALL_AT = 20

# The original engine's constants (ORIGINAL-ENGINE.md).
ORIGINAL_WEIGHTS = {"genre": 0.45, "popularity": 0.15, "quality": 0.20, "recency": 0.10}
ORIGINAL_COLLABORATIVE_WEIGHT = 0.10
ORIGINAL_MIN_VOTES = 10
ORIGINAL_PADDING_MIN_VOTES = 50
ORIGINAL_TOP_GENRES = 5
ORIGINAL_NEIGHBOURS = 50
ORIGINAL_COLLABORATIVE_MOVIES = 200


@dataclass(frozen=True, eq=False)
class EvaluationUser:
    user_id: int
    train_movies: np.ndarray  # catalogue positions rated in training
    train_ratings: np.ndarray  # their ratings, 1-10
    relevant: np.ndarray  # catalogue positions held out with a rating >= RELEVANT_RATING
    cutoff: date  # day of the first held-out rating: "today" for this user


@dataclass(frozen=True, eq=False)
class EvaluationSet:
    catalogue: Catalogue
    users: list[EvaluationUser]
    train_users: np.ndarray  # every training rating: user id, catalogue position, rating, time
    train_positions: np.ndarray
    train_ratings: np.ndarray
    train_timestamps: np.ndarray


@dataclass(frozen=True)
class MethodResult:
    name: str
    users: int
    ndcg: float
    recall: float
    hit_rate: float
    coverage: float
    ms_per_user: float


def split_ratings(data: MovieLensData) -> tuple[np.ndarray, np.ndarray]:
    """Masks (train, held out) over the rating rows; users under MIN_RATINGS are all training."""
    ratings = data.ratings
    order = np.lexsort((ratings.movie_ids, ratings.timestamps, ratings.user_ids))
    held_out = np.zeros(len(ratings), dtype=bool)
    users = ratings.user_ids[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], users.size]
    for start, end in zip(starts, ends, strict=True):
        count = end - start
        if count >= MIN_RATINGS:
            held = max(1, round(count * HOLDOUT_FRACTION))
            held_out[order[end - held : end]] = True
    return ~held_out, held_out


def training_part(data: MovieLensData) -> MovieLensData:
    """The folder without its test part: what tuning may see. The held-out ratings are gone
    before anything else reads the data, so tuning cannot peek at them."""
    train, _ = split_ratings(data)
    ratings = data.ratings
    return MovieLensData(
        movies=data.movies,
        links=data.links,
        ratings=MovieLensRatings(
            user_ids=ratings.user_ids[train],
            movie_ids=ratings.movie_ids[train],
            ratings=ratings.ratings[train],
            timestamps=ratings.timestamps[train],
        ),
    )


def tuning_inputs(training: MovieLensData) -> tuple[Catalogue, Interactions]:
    """The catalogue (metadata from these ratings only) and every rating as an interaction,
    for the tuner. Call it with `training_part(data)`."""
    catalogue = build_evaluation_set(training).catalogue
    ratings = training.ratings
    return catalogue, Interactions(
        user_ids=ratings.user_ids,
        positions=catalogue.positions(ratings.movie_ids.tolist()),
        kinds=np.full(len(ratings), RATING, dtype=np.int64),
        ratings=ratings.ratings,
        timestamps=ratings.timestamps,
    )


def build_evaluation_set(data: MovieLensData) -> EvaluationSet:
    """The catalogue (metadata from the files and the training ratings) and the test users."""
    ratings = data.ratings
    train, held_out = split_ratings(data)
    movie_ids = np.array(sorted(set(data.movies) | set(ratings.movie_ids.tolist())), np.int64)
    position = {int(m): i for i, m in enumerate(movie_ids)}
    rated_positions = np.array([position[int(m)] for m in ratings.movie_ids], dtype=np.int64)
    counts = np.bincount(rated_positions[train], minlength=movie_ids.size)
    sums = np.bincount(
        rated_positions[train], weights=ratings.ratings[train], minlength=counts.size
    )
    means = np.divide(sums, counts, out=np.zeros(counts.size), where=counts > 0)
    genre_ids = sorted(TMDB_GENRE_NAMES, key=lambda g: TMDB_GENRE_NAMES[g])
    movies = [data.movies.get(int(m)) for m in movie_ids]
    catalogue = build_catalogue(
        movie_ids=movie_ids,
        # The item model's keys: here the MovieLens ids themselves.
        tmdb_ids=movie_ids,
        titles=[
            movie.title if movie else str(m) for m, movie in zip(movie_ids, movies, strict=True)
        ],
        genre_links=[
            (int(m), genre)
            for m, movie in zip(movie_ids, movies, strict=True)
            if movie
            for genre in movie.genre_tmdb_ids
        ],
        genre_tmdb_ids=genre_ids,
        genre_names=[TMDB_GENRE_NAMES[g] for g in genre_ids],
        vote_average=means,
        vote_count=counts,
        popularity=counts.astype(np.float64),
        release_dates=[movie.release_date if movie else None for movie in movies],
    )
    users: list[EvaluationUser] = []
    for user_id in np.unique(ratings.user_ids[held_out]):
        mine = ratings.user_ids == user_id
        train_rows, test_rows = mine & train, mine & held_out
        relevant = test_rows & (ratings.ratings >= RELEVANT_RATING)
        first_held = int(ratings.timestamps[test_rows].min())
        users.append(
            EvaluationUser(
                user_id=int(user_id),
                train_movies=rated_positions[train_rows],
                train_ratings=ratings.ratings[train_rows],
                relevant=np.unique(rated_positions[relevant]),
                cutoff=datetime.fromtimestamp(first_held, UTC).date(),
            )
        )
    return EvaluationSet(
        catalogue=catalogue,
        users=users,
        train_users=ratings.user_ids[train],
        train_positions=rated_positions[train],
        train_ratings=ratings.ratings[train],
        train_timestamps=ratings.timestamps[train],
    )


def learn_training_similarity(evaluation: EvaluationSet) -> sp.csr_matrix:
    """The engine's item model, learned from the training positives, aligned to the catalogue."""
    liked = evaluation.train_ratings >= LIKED_RATING
    model = learn_item_model(
        evaluation.train_users[liked],
        evaluation.catalogue.tmdb_ids[evaluation.train_positions[liked]],
    )
    return align_similarity(model, evaluation.catalogue)


def learn_configured_similarity(
    evaluation: EvaluationSet, configuration: EngineConfiguration
) -> sp.csr_matrix:
    """The item model of a (tuned) configuration, learned from every training rating."""
    interactions = Interactions(
        user_ids=evaluation.train_users,
        positions=evaluation.train_positions,
        kinds=np.full(evaluation.train_users.size, RATING, dtype=np.int64),
        ratings=evaluation.train_ratings,
        timestamps=evaluation.train_timestamps,
    )
    values = interaction_values(interactions, configuration.inputs)
    used = values > 0
    return learn_similarity(
        configuration.model,
        evaluation.train_users[used],
        evaluation.train_positions[used],
        evaluation.catalogue.size,
        values[used],
        evaluation.train_timestamps[used],
    )


def engine_ranker(
    evaluation: EvaluationSet, weights: Weights, configuration: EngineConfiguration | None = None
) -> Callable[[EvaluationUser, int], np.ndarray]:
    """Rank with app.services.recommendation.ranking.rank_for_user, as the API does: with the
    default model and `weights`, or with everything a tuned `configuration` chose (its
    exposure re-rank counted, as training does, over every user's training part)."""
    catalogue = evaluation.catalogue
    max_run, serving = MAX_SAME_GENRE_RUN, DEFAULT_SERVING
    if configuration is None:
        similarity = learn_training_similarity(evaluation)
    else:
        similarity = learn_configured_similarity(evaluation, configuration)
        weights, max_run = configuration.weights, configuration.max_same_genre_run
        serving = configuration.serving

    def signals_of(user: EvaluationUser) -> UserSignals:
        is_liked = user.train_ratings >= LIKED_RATING
        liked = user.train_movies[is_liked]
        liking = np.ones(liked.size)
        if serving.graded_seeds:
            liking = np.array([graded_liking(r) for r in user.train_ratings[is_liked]])
        return UserSignals(
            liked=liked,
            liked_weight=liking,
            excluded=user.train_movies,
            favorite_genres=np.empty(0, dtype=np.int64),
        )

    rerank = None
    if serving.reranks_by_exposure:
        counts = count_exposure(
            catalogue,
            ((signals_of(user), user.cutoff) for user in evaluation.users),
            weights,
            similarity,
            max_same_genre_run=max_run,
            released_only=serving.released_only,
        )
        rerank = exposure_rerank(counts, serving.exposure_depth, serving.exposure_strength)

    def rank(user: EvaluationUser, limit: int) -> np.ndarray:
        results = rank_for_user(
            catalogue,
            signals_of(user),
            weights,
            user.cutoff,
            limit,
            similarity,
            max_same_genre_run=max_run,
            released_only=serving.released_only,
            exposure=rerank,
        ).results
        return catalogue.positions([r.movie_id for r in results])

    return rank


def popularity_ranker(evaluation: EvaluationSet) -> Callable[[EvaluationUser, int], np.ndarray]:
    """Most training ratings first (ties by movie id), skipping what the user rated."""
    counts = np.bincount(evaluation.train_positions, minlength=evaluation.catalogue.size)
    order = np.lexsort((evaluation.catalogue.movie_ids, -counts))

    def rank(user: EvaluationUser, limit: int) -> np.ndarray:
        rated = np.zeros(counts.size, dtype=bool)
        rated[user.train_movies] = True
        return order[~rated[order]][:limit]

    return rank


def original_ranker(evaluation: EvaluationSet) -> Callable[[EvaluationUser, int], np.ndarray]:
    """The original weighted scorer of ORIGINAL-ENGINE.md, with favourites read as ratings >= 7
    (MovieLens has no favourites) and, as the protocol asks, no movie rated in training."""
    catalogue = evaluation.catalogue
    size = catalogue.size
    genres = catalogue.genre_matrix
    popularity = np.minimum(np.log1p(catalogue.popularity) / 10, 1.0)
    quality = np.minimum(catalogue.vote_average / 10, 1.0)
    liked_rows = evaluation.train_ratings >= LIKED_RATING
    user_ids, user_index = np.unique(evaluation.train_users[liked_rows], return_inverse=True)
    favorites = sp.csr_matrix(
        (np.ones(user_index.size), (user_index, evaluation.train_positions[liked_rows])),
        shape=(user_ids.size, size),
    )
    favorites.data[:] = 1.0
    # Users who favourited something, per genre (in user id order: "an arbitrary 50").
    fans = [np.unique(favorites[:, genres[:, g] > 0].nonzero()[0]) for g in range(genres.shape[1])]
    by_name = np.argsort([name.casefold() for name in catalogue.genre_names])
    first_genre = np.full(size, -1)
    for g in by_name[::-1]:
        first_genre[genres[:, g] > 0] = g
    padding_order = np.lexsort((-catalogue.vote_average, -catalogue.popularity))

    def rank(user: EvaluationUser, limit: int) -> np.ndarray:
        liked = user.train_movies[user.train_ratings >= LIKED_RATING]
        profile = genres[liked].sum(axis=0)
        if profile.max(initial=0) > 0:
            profile = profile / profile.max()
        genre = (genres @ profile) / profile.sum() if profile.sum() > 0 else np.zeros(size)
        collaborative = np.zeros(size)
        top = [g for g in np.argsort(-profile, kind="stable")[:ORIGINAL_TOP_GENRES] if profile[g]]
        if top:
            others = np.unique(np.concatenate([fans[g] for g in top]))
            me = int(np.searchsorted(user_ids, user.user_id))
            if me < user_ids.size and user_ids[me] == user.user_id:
                others = others[others != me]
            others = others[:ORIGINAL_NEIGHBOURS]
            counts = np.asarray(favorites[others].sum(axis=0)).ravel()
            keep = np.argsort(-counts, kind="stable")[:ORIGINAL_COLLABORATIVE_MOVIES]
            if counts.max(initial=0) > 0:
                collaborative[keep] = counts[keep] / counts.max()
        age = user.cutoff.toordinal() - catalogue.release_day
        with np.errstate(invalid="ignore"):
            recency = np.where((age >= 0) & (age <= RECENCY_DAYS), 1 - age / RECENCY_DAYS, 0.0)
        recency = np.nan_to_num(recency)
        score = np.round(
            ORIGINAL_WEIGHTS["genre"] * genre
            + ORIGINAL_WEIGHTS["popularity"] * popularity
            + ORIGINAL_WEIGHTS["quality"] * quality
            + ORIGINAL_WEIGHTS["recency"] * recency
            + ORIGINAL_COLLABORATIVE_WEIGHT * collaborative,
            4,
        )
        candidate = (catalogue.vote_count >= ORIGINAL_MIN_VOTES) & (score > 0)
        candidate[user.train_movies] = False
        ranked = np.flatnonzero(candidate)
        ranked = ranked[np.argsort(-score[ranked], kind="stable")]
        chosen: list[int] = []
        run_genre, run = -2, 0
        for position in ranked:
            g = int(first_genre[position])
            if g == run_genre and run >= MAX_SAME_GENRE_RUN:
                continue
            run_genre, run = (g, run + 1) if g == run_genre else (g, 1)
            chosen.append(int(position))
            if len(chosen) >= limit:
                break
        if len(chosen) < limit:
            taken = set(chosen) | set(user.train_movies.tolist())
            for position in padding_order:
                if len(chosen) >= limit:
                    break
                if catalogue.vote_count[position] >= ORIGINAL_PADDING_MIN_VOTES and (
                    int(position) not in taken
                ):
                    chosen.append(int(position))
        return np.asarray(chosen, dtype=np.int64)

    return rank


def measure(
    name: str,
    evaluation: EvaluationSet,
    rank: Callable[[EvaluationUser, int], np.ndarray],
    k: int,
) -> MethodResult:
    """NDCG@k, Recall@20, HitRate@k and coverage@k over the users with a relevant movie."""
    limit = max(k, RECALL_AT)
    discounts = 1.0 / np.log2(np.arange(2, limit + 2))
    ndcg, recall, hits = [], [], []
    shown: set[int] = set()
    started = time.perf_counter()
    evaluated = [user for user in evaluation.users if user.relevant.size]
    for user in evaluated:
        ranked = rank(user, limit)
        relevant = np.isin(ranked, user.relevant)
        ideal = discounts[: min(user.relevant.size, k)].sum()
        top = relevant[:k]  # a ranking may be shorter than k
        ndcg.append(float(discounts[: top.size][top].sum() / ideal))
        recall.append(float(relevant[:RECALL_AT].sum() / user.relevant.size))
        hits.append(float(relevant[:k].any()))
        shown.update(ranked[:k].tolist())
    elapsed = time.perf_counter() - started
    count = len(evaluated)
    return MethodResult(
        name=name,
        users=count,
        ndcg=float(np.mean(ndcg)) if count else 0.0,
        recall=float(np.mean(recall)) if count else 0.0,
        hit_rate=float(np.mean(hits)) if count else 0.0,
        coverage=len(shown) / evaluation.catalogue.size if evaluation.catalogue.size else 0.0,
        ms_per_user=1000 * elapsed / count if count else math.nan,
    )


def evaluate(
    directory: Path,
    weights: Weights,
    k: int = 10,
    tuned: EngineConfiguration | None = None,
) -> list[MethodResult]:
    """The engine (default and, when given, tuned), the popularity baseline and the original
    scorer on one MovieLens folder."""
    evaluation = build_evaluation_set(read_movielens(directory))
    engines = [measure("engine", evaluation, engine_ranker(evaluation, weights), k)]
    if tuned is not None:
        engines.append(measure("tuned", evaluation, engine_ranker(evaluation, weights, tuned), k))
    return [
        *engines,
        measure("popularity", evaluation, popularity_ranker(evaluation), k),
        measure("original", evaluation, original_ranker(evaluation), k),
    ]


def format_table(results: list[MethodResult], k: int) -> str:
    headers = (
        "method",
        "users",
        f"NDCG@{k}",
        f"Recall@{RECALL_AT}",
        f"HitRate@{k}",
        f"Coverage@{k}",
        "ms/user",
    )
    rows = [
        (
            r.name,
            str(r.users),
            f"{r.ndcg:.4f}",
            f"{r.recall:.4f}",
            f"{r.hit_rate:.4f}",
            f"{r.coverage:.4f}",
            f"{r.ms_per_user:.2f}",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [headers, *rows]
    ]
    lines.insert(1, "-|-".join("-" * width for width in widths))
    return "\n".join(lines)
