"""The onboarding selection on arrays, without a database: 10,000 random films, 19 genres and
a 2,500-item model with 100 neighbours each, from a fixed seed.

    python -m benchmarks.onboarding

Prints the median and the slowest of 50 selections of 20 films.
"""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.onboarding import select_onboarding

SEED = 20241203
MOVIES = 10_000
GENRES = 19
MODEL_ITEMS = 2_500
NEIGHBOURS = 100
RUNS = 50


def random_catalogue(rng: np.random.Generator) -> Catalogue:
    ids = np.arange(1, MOVIES + 1)
    links = [
        (int(movie), int(genre))
        for movie in ids
        for genre in rng.choice(GENRES, rng.integers(1, 4), replace=False)
    ]
    first_day = date(1930, 1, 1)
    return build_catalogue(
        movie_ids=ids,
        tmdb_ids=ids,
        titles=[f"Film {movie}" for movie in ids],
        genre_links=links,
        genre_tmdb_ids=list(range(GENRES)),
        genre_names=[f"Genre {genre}" for genre in range(GENRES)],
        vote_average=rng.uniform(4, 9, MOVIES),
        vote_count=rng.integers(0, 30_000, MOVIES),
        popularity=rng.pareto(1.5, MOVIES) * 10,
        release_dates=[first_day + timedelta(days=int(d)) for d in rng.integers(0, 34_000, MOVIES)],
    )


def random_model(rng: np.random.Generator) -> sp.csr_matrix:
    items = rng.choice(MOVIES, MODEL_ITEMS, replace=False)
    rows = np.repeat(items, NEIGHBOURS)
    cols = rng.choice(items, rows.size)
    weights = rng.random(rows.size).astype(np.float32)
    return sp.csr_matrix((weights, (rows, cols)), shape=(MOVIES, MOVIES))


def main() -> None:
    rng = np.random.default_rng(SEED)
    catalogue = random_catalogue(rng)
    similarity = random_model(rng)
    candidates = np.ones(catalogue.size, dtype=bool)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        select_onboarding(catalogue, candidates, similarity)
        timings.append(time.perf_counter() - started)
    print(
        f"select_onboarding, {MOVIES:,} films: median {statistics.median(timings) * 1000:.1f} ms,"
        f" slowest {max(timings) * 1000:.1f} ms ({RUNS} runs)"
    )


if __name__ == "__main__":
    main()
