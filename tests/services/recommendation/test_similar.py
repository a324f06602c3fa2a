"""Movies like a given one: overview text vectors (TF-IDF, stop words) and the blend of
learned similarity, genre overlap and text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.similar import build_overview_vectors, rank_similar


def cosine(vectors: sp.csr_matrix, a: int, b: int) -> float:
    return float((vectors[a] @ vectors[b].T).toarray()[0, 0])


def catalogue_of(
    count: int, genres: Sequence[Sequence[int]] = (), popularity: Sequence[float] = ()
) -> Catalogue:
    movie_ids = np.arange(1, count + 1)
    return build_catalogue(
        movie_ids=movie_ids,
        tmdb_ids=movie_ids,
        titles=[f"Film {m}" for m in movie_ids],
        genre_links=[
            (int(movie_ids[row]), genre) for row, movie in enumerate(genres) for genre in movie
        ],
        genre_tmdb_ids=[1, 2],
        genre_names=["Drama", "Western"],
        vote_average=np.full(count, 7.0),
        vote_count=np.full(count, 100),
        popularity=list(popularity) or np.full(count, 10.0),
        release_dates=[None] * count,
    )


# ---- overview vectors --------------------------------------------------------------------------


def test_overviews_sharing_rare_words_are_similar_and_strangers_are_not() -> None:
    vectors = build_overview_vectors(
        [
            "A safecracker plans a bank heist.",
            "A bank heist goes wrong for a safecracker.",
            "A whale hunts a sea captain.",
            "Pirates sail the sea.",
            "Nothing in common here.",
        ]
    )
    assert cosine(vectors, 0, 1) > 0.9
    assert cosine(vectors, 2, 3) > 0
    assert cosine(vectors, 0, 2) == 0 and cosine(vectors, 0, 4) == 0


def test_rows_with_words_are_unit_length_and_rows_without_are_empty() -> None:
    vectors = build_overview_vectors(["Bank heist.", "Another bank heist.", "", "Pirates."])
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    assert norms.tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0])


def test_stop_words_never_make_two_overviews_similar() -> None:
    shared_only_stop_words = [
        "The film is about their life, and the story of this movie while they must.",
        "The film is about their life, and the story of this movie while they must.",
        "Bank heist.",
        "Bank heist.",
        "Pirates.",
        "Whales.",
    ]
    vectors = build_overview_vectors(shared_only_stop_words)
    assert vectors[0].nnz == 0 and cosine(vectors, 0, 1) == 0
    assert cosine(vectors, 2, 3) == pytest.approx(1.0)


def test_a_word_in_more_than_half_of_the_overviews_carries_nothing() -> None:
    overviews = ["Heist in Paris.", "Heist in Rome.", "Heist in Oslo.", "Heist at sea."]
    vectors = build_overview_vectors(overviews)
    assert vectors.shape[1] == 0


def test_words_are_lower_cased_and_need_three_letters() -> None:
    vectors = build_overview_vectors(["BANK ox", "bank ox", "pirates"])
    assert cosine(vectors, 0, 1) == pytest.approx(1.0)
    assert vectors.shape[1] == 1  # "bank"; "ox" is too short


# ---- the blend -------------------------------------------------------------------------------


def test_text_puts_the_story_twin_first_among_movies_of_the_same_genre() -> None:
    # Same genre everywhere; the twin is the least popular, so only the text can lift it.
    catalogue = catalogue_of(4, genres=[[1], [1], [1], [1]], popularity=[10, 90, 80, 1])
    overviews = [
        "A safecracker plans a bank heist.",
        "Two sisters run a bakery.",
        "A sailor crosses the bakery.",
        "A bank heist by an ageing safecracker.",
    ]
    vectors = build_overview_vectors(overviews)
    with_text = rank_similar(catalogue, 0, 3, None, vectors)
    without_text = rank_similar(catalogue, 0, 3, None, None)
    assert [r.movie_id for r in with_text] == [4, 2, 3]
    assert [r.movie_id for r in without_text] == [2, 3, 4]


def test_a_movie_without_genres_is_matched_by_its_story_alone() -> None:
    catalogue = catalogue_of(3)
    vectors = build_overview_vectors(
        ["A safecracker plans a bank heist.", "A bank heist.", "Pirates at sea."]
    )
    results = rank_similar(catalogue, 0, 5, None, vectors)
    assert [r.movie_id for r in results] == [2]
    assert results[0].explanation == "A story like Film 1's"
    assert results[0].recommendation_type == "content_based"


def test_learned_similarity_outweighs_the_text() -> None:
    catalogue = catalogue_of(3, genres=[[1], [2], [2]])
    learned = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=np.float32))
    vectors = build_overview_vectors(["Bank heist.", "Pirates.", "Bank heist."])
    results = rank_similar(catalogue, 0, 5, learned, vectors)
    assert [r.movie_id for r in results] == [2, 3]
    assert results[0].explanation == "Often liked by people who liked Film 1"
    assert results[0].recommendation_type == "collaborative"
    # Film 3 shares only the story: its text part (0.20) is below film 2's learned one (0.45).
    assert results[1].explanation == "A story like Film 1's"
    assert results[0].score > results[1].score
