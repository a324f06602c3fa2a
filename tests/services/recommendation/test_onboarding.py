"""The onboarding selection on a tiny catalogue: fame, then genres and decades not yet on the
list, then what the item model says the chosen films already ask."""

from __future__ import annotations

from datetime import date

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue, build_catalogue
from app.services.recommendation.onboarding import (
    UNKNOWN,
    OnboardingPick,
    decades,
    describe_pick,
    fame,
    select_onboarding,
)

# Six films, best known first: 1-3 are Action, 4-5 Comedy, 6 Western; all from 2015.
GENRES = {1: [1], 2: [1], 3: [1], 4: [2], 5: [2], 6: [3]}
POPULARITY = [100.0, 95.0, 90.0, 80.0, 75.0, 70.0]


def tiny_catalogue(
    release_dates: list[date | None] | None = None,
    genres: dict[int, list[int]] | None = None,
    popularity: list[float] | None = None,
) -> Catalogue:
    links = [(movie, genre) for movie, own in (genres or GENRES).items() for genre in own]
    pop = np.asarray(popularity or POPULARITY)
    return build_catalogue(
        movie_ids=[1, 2, 3, 4, 5, 6],
        tmdb_ids=[11, 12, 13, 14, 15, 16],
        titles=[f"Film {n}" for n in range(1, 7)],
        genre_links=links,
        genre_tmdb_ids=[1, 2, 3],
        genre_names=["Action", "Comedy", "Western"],
        vote_average=np.full(6, 7.0),
        vote_count=(pop * 10).astype(int),
        popularity=pop,
        release_dates=release_dates or [date(2015, 1, 1)] * 6,
    )


def everyone(catalogue: Catalogue) -> np.ndarray:
    return np.ones(catalogue.size, dtype=bool)


def similarity_between(pairs: dict[tuple[int, int], float]) -> sp.csr_matrix:
    """A symmetric item model over the six films, by movie id (positions are id - 1)."""
    matrix = np.zeros((6, 6), dtype=np.float32)
    for (a, b), weight in pairs.items():
        matrix[a - 1, b - 1] = matrix[b - 1, a - 1] = weight
    return sp.csr_matrix(matrix)


def chosen(picks: list[OnboardingPick]) -> list[int]:
    return [pick.movie_id for pick in picks]


def test_fame_ranks_the_most_popular_and_most_voted_first() -> None:
    known = fame(tiny_catalogue())
    assert list(np.argsort(-known)) == [0, 1, 2, 3, 4, 5]
    assert known.max() <= 1.0 and known.min() > 0.0


def test_without_a_model_the_best_known_film_of_each_genre_comes_before_more_of_one_genre() -> None:
    catalogue = tiny_catalogue()
    picks = select_onboarding(catalogue, everyone(catalogue), None, size=4)
    # Popularity alone would take 1, 2, 3, 4: the spread takes one film of each genre first.
    assert chosen(picks) == [1, 4, 6, 2]
    assert [pick.genre for pick in picks] == [0, 1, 2, 0]
    assert [pick.new_genre for pick in picks] == [True, True, True, False]


def test_a_new_decade_wins_over_an_equally_known_film_of_a_decade_already_listed() -> None:
    dated = [date(1994, 5, 1), date(1999, 1, 1), date(1962, 1, 1)] + [date(2015, 1, 1)] * 3
    only_action = {movie: [1] for movie in range(1, 7)}
    catalogue = tiny_catalogue(dated, only_action, [100.0, 95.0, 95.0, 10.0, 10.0, 10.0])
    picks = select_onboarding(catalogue, everyone(catalogue), None, size=2)
    assert chosen(picks) == [1, 3]  # 2 is as well known as 3, but from the 1990s like 1
    assert [pick.decade for pick in picks] == [1990, 1960]
    assert picks[1].new_decade and not picks[1].new_genre


def test_a_film_liked_by_the_same_people_as_a_chosen_one_gives_way_to_another() -> None:
    catalogue = tiny_catalogue()
    # 4 is what the audience of 1 likes; 5 has an audience of its own.
    model = similarity_between({(1, 4): 1.0, (2, 3): 0.5, (5, 6): 0.5})
    picks = select_onboarding(catalogue, everyone(catalogue), model, size=2)
    assert chosen(picks) == [1, 5]
    assert chosen(select_onboarding(catalogue, everyone(catalogue), None, size=2)) == [1, 4]


def test_a_film_the_model_knows_wins_over_a_better_known_one_it_does_not() -> None:
    catalogue = tiny_catalogue()
    # Only 5 and 6 are in the model: liking 5 (or 6) says something, liking 1 nothing yet.
    model = similarity_between({(5, 6): 0.2})
    picks = select_onboarding(catalogue, everyone(catalogue), model, size=2)
    # 6, liked by the same people as 5, would ask the same question again: 1 comes next.
    assert chosen(picks) == [5, 1]


def test_only_candidates_are_chosen_and_never_twice() -> None:
    catalogue = tiny_catalogue()
    candidates = everyone(catalogue)
    candidates[[0, 3]] = False  # the user already has films 1 and 4
    picks = select_onboarding(catalogue, candidates, None, size=10)
    assert sorted(chosen(picks)) == [2, 3, 5, 6]
    assert chosen(picks)[:2] == [2, 5]


def test_only_the_best_known_films_compete() -> None:
    catalogue = tiny_catalogue()
    picks = select_onboarding(catalogue, everyone(catalogue), None, size=3, pool_size=3)
    assert chosen(picks) == [1, 2, 3]  # the Western 6 is not among the three best known


def test_an_empty_catalogue_or_no_candidate_or_no_room_gives_nothing() -> None:
    empty = build_catalogue(
        movie_ids=[],
        tmdb_ids=[],
        titles=[],
        genre_links=[],
        genre_tmdb_ids=[],
        genre_names=[],
        vote_average=[],
        vote_count=[],
        popularity=[],
        release_dates=[],
    )
    assert select_onboarding(empty, np.ones(0, dtype=bool)) == []
    catalogue = tiny_catalogue()
    assert select_onboarding(catalogue, np.zeros(6, dtype=bool)) == []
    assert select_onboarding(catalogue, everyone(catalogue), size=0) == []


def test_the_slot_is_the_least_listed_genre_of_the_film_then_the_rarest() -> None:
    # Film 1 is Action and Western: the Western is rarer among the candidates, so it is its slot.
    genres = {1: [1, 3], 2: [1], 3: [1], 4: [2], 5: [2], 6: [3]}
    catalogue = tiny_catalogue(genres=genres)
    first = select_onboarding(catalogue, everyone(catalogue), None, size=1)[0]
    assert (first.movie_id, catalogue.genre_names[first.genre]) == (1, "Western")


def test_decades_of_release_days() -> None:
    days = np.array([date(1994, 5, 1).toordinal(), np.nan, date(2000, 1, 1).toordinal()])
    assert list(decades(days)) == [1990, UNKNOWN, 2000]


def test_each_pick_says_which_genre_and_decade_it_stands_for() -> None:
    names = ["Action", "Comedy", "Western"]
    pick = OnboardingPick(1, 1, genre=2, decade=1960, new_genre=True, new_decade=True)
    assert describe_pick(pick, names) == "A well-known Western film of the 1960s"
    bare = OnboardingPick(1, 1, genre=UNKNOWN, decade=UNKNOWN, new_genre=False, new_decade=False)
    assert describe_pick(bare, names) == "A well-known film"
