"""Structured reasons say what the sentence says: the same films, the same genre, in order
of contribution, for every kind of result the engine gives."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.explanations import join_names
from app.services.recommendation.filters import RecommendationFilters
from app.services.recommendation.ranking import RecommendedMovie, rank_for_user
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import UserSignals

TODAY = date(2024, 6, 1)
GENRES = {1: "Action", 2: "Drama", 3: "Comedy", 4: "Western"}
PADDING_SENTENCES = {
    ("highly_rated", "new"): "Highly rated and new",
    ("highly_rated",): "Highly rated",
    ("new", "popular"): "New and popular",
    ("popular",): "Popular right now",
}

# Learned neighbours of films 5 (Drama) and 8 (Action), across genres, for a user liking both.
NEIGHBOURS_OF_5_AND_8 = {
    (5, 11): 0.9,
    (8, 11): 0.3,
    (5, 20): 0.8,
    (8, 21): 0.7,
    (8, 30): 0.2,
    (5, 42): 0.1,
}


def small_catalogue() -> Catalogue:
    """60 films: Action, Drama, Comedy or Western (some two genres), varied quality and age."""
    count = 60
    movie_ids = np.arange(1, count + 1)
    links = [(int(m), 1 + int(m) % 4) for m in movie_ids]
    links += [(int(m), 2) for m in movie_ids[::7] if 1 + int(m) % 4 != 2]
    return build_catalogue(
        movie_ids=movie_ids,
        tmdb_ids=movie_ids + 1000,
        titles=[f"Film {m}" for m in movie_ids],
        genre_links=links,
        genre_tmdb_ids=list(GENRES),
        genre_names=list(GENRES.values()),
        vote_average=np.linspace(9.0, 4.0, count),
        vote_count=np.full(count, 500),
        popularity=np.linspace(200, 1, count),
        release_dates=[date(2024, 1, 1) if m % 3 == 0 else date(2000, 1, 1) for m in movie_ids],
    )


def similarity_from(catalogue: Catalogue, pairs: dict[tuple[int, int], float]) -> sp.csr_matrix:
    rows, cols, values = [], [], []
    for (a, b), value in pairs.items():
        pa, pb = catalogue.positions([a, b])
        rows += [pa, pb]
        cols += [pb, pa]
        values += [value, value]
    return sp.csr_matrix((values, (rows, cols)), shape=(catalogue.size, catalogue.size))


def user_liking(catalogue: Catalogue, movie_ids: list[int]) -> UserSignals:
    liked = catalogue.positions(movie_ids)
    return UserSignals(
        liked=liked,
        liked_weight=np.ones(liked.size),
        excluded=liked,
        favorite_genres=np.empty(0, dtype=np.int64),
    )


def expected_sentence(result: RecommendedMovie) -> str:
    """The sentence the reasons describe, by the explanation rules."""
    reasons = result.reasons
    films = join_names([r["movie"]["title"] for r in reasons if r["kind"] == "liked_movie"])
    genres = [r["genre"]["name"] for r in reasons if r["kind"] == "genre"]
    kinds = tuple(r["kind"] for r in reasons)
    if result.recommendation_type == "trending":
        return PADDING_SENTENCES[kinds]
    if result.recommendation_type == "collaborative":
        assert not genres
        return f"Because you liked {films}"
    if result.recommendation_type == "hybrid":
        (genre,) = genres
        return f"Because you liked {films}, and you enjoy {genre}"
    if "popular" in kinds:
        return f"Popular in {genres[0]}"
    if films:
        assert kinds[0] == "genre"  # the genre carries a content-based result
        return f"Because you like {genres[0]} films such as {films}"
    return "Matches your favourite genres"


def check_reasons(results: list[RecommendedMovie]) -> set[str]:
    """Assert every result's reasons match its sentence; returns the types seen."""
    for result in results:
        assert result.reasons, result
        assert result.explanation == expected_sentence(result), result
        weights = [r["weight"] for r in result.reasons if r["kind"] == "liked_movie"]
        if result.recommendation_type == "collaborative":
            assert weights == sorted(weights, reverse=True)
        for reason in result.reasons:
            if reason["kind"] == "genre":
                assert GENRES[reason["genre"]["id"]] == reason["genre"]["name"]
            if reason["kind"] == "liked_movie":
                assert reason["movie"]["title"] == f"Film {reason['movie']['id']}"
    return {result.recommendation_type for result in results}


def test_reasons_match_the_sentence_for_every_kind_of_result() -> None:
    catalogue = small_catalogue()
    similarity = similarity_from(catalogue, NEIGHBOURS_OF_5_AND_8)
    user = user_liking(catalogue, [5, 8])
    seen: set[str] = set()
    for weights in (
        Weights(genre=1.0, quality=0.2, popularity=0.2, recency=0.1, collaborative=2.0),
        Weights(genre=1.0, quality=0.2, popularity=0.2, recency=0.1, collaborative=0.3),
    ):
        results = rank_for_user(catalogue, user, weights, TODAY, 58, similarity).results
        seen |= check_reasons(results)
    assert {"collaborative", "hybrid", "content_based", "trending"} <= seen


def test_a_collaborative_result_names_its_films_by_contribution() -> None:
    catalogue = small_catalogue()
    similarity = similarity_from(catalogue, {(5, 11): 0.2, (8, 11): 0.9})
    user = user_liking(catalogue, [5, 8])
    weights = Weights(genre=0.0, quality=0.1, popularity=0.1, recency=0.0, collaborative=1.0)
    (first,) = [
        r
        for r in rank_for_user(catalogue, user, weights, TODAY, 5, similarity).results
        if r.movie_id == 11
    ]
    assert first.explanation == "Because you liked Film 8 and Film 5"
    assert [(r["movie"]["id"], r["weight"]) for r in first.reasons] == [(8, 0.9), (5, 0.2)]


def test_a_cold_user_is_told_the_genre_and_that_it_is_popular() -> None:
    catalogue = small_catalogue()
    user = UserSignals(
        liked=np.empty(0, dtype=np.int64),
        liked_weight=np.empty(0),
        excluded=np.empty(0, dtype=np.int64),
        favorite_genres=np.array([3]),  # Western
    )
    weights = Weights(genre=1.0, quality=0.2, popularity=0.2, recency=0.1, collaborative=1.0)
    results = rank_for_user(catalogue, user, weights, TODAY, 10).results
    check_reasons(results)
    cold: list[dict[str, Any]] = [
        dict(r.reasons[0]) for r in results if r.recommendation_type != "trending"
    ]
    assert cold and all(
        reason == {"kind": "genre", "genre": {"id": 4, "name": "Western"}} for reason in cold
    )


def test_the_type_filter_agrees_with_the_type_each_result_is_explained_with() -> None:
    catalogue = small_catalogue()
    similarity = similarity_from(catalogue, NEIGHBOURS_OF_5_AND_8)
    user = user_liking(catalogue, [5, 8])
    weights = Weights(genre=1.0, quality=0.2, popularity=0.2, recency=0.1, collaborative=1.0)
    everything = rank_for_user(catalogue, user, weights, TODAY, 60, similarity)
    explained = {r.movie_id: r.recommendation_type for r in everything.results}
    matched = 0
    for kind in ("collaborative", "hybrid", "content_based", "trending"):
        only = RecommendationFilters(recommendation_type=kind)
        ranking = rank_for_user(catalogue, user, weights, TODAY, 60, similarity, only)
        assert ranking.matched == sum(1 for value in explained.values() if value == kind)
        assert {r.movie_id for r in ranking.results} == {
            movie for movie, value in explained.items() if value == kind
        }
        matched += ranking.matched
    assert matched == everything.matched == len(everything.results)
