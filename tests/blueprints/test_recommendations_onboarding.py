"""The onboarding list: well-known films spread over genres and decades, none that the user
already has; rating five of them turns a new user's recommendations personal."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import (
    Favorite,
    Genre,
    Movie,
    Rating,
    RecommendationFeedback,
    User,
    WatchHistory,
    WatchlistEntry,
)
from app.services.demo import seed_demo
from app.services.recommender import train_model_version
from tests.factories import auth_headers, make_entry, make_genre, make_movie, make_user
from tests.helpers import assert_problem
from tests.query_count import recorded_statements

URL = "/api/v1/recommendations/onboarding/"
RECOMMENDATIONS = "/api/v1/recommendations/"
RATINGS = "/api/v1/favorites/ratings/"
FILMS_TO_RATE = 5  # the documented flow: rate five, then ask for recommendations


def onboarding(client: FlaskClient, headers: dict[str, str], query: str = "") -> list[Any]:
    response = client.get(f"{URL}?{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["count"] == len(body["results"])
    assert [item["rank"] for item in body["results"]] == list(range(1, body["count"] + 1))
    return body["results"]


def movie_ids(results: list[Any]) -> list[int]:
    return [item["movie"]["id"] for item in results]


def recommendations(client: FlaskClient, headers: dict[str, str]) -> list[Any]:
    response = client.get(f"{RECOMMENDATIONS}?page_size=10", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def rate(client: FlaskClient, headers: dict[str, str], movie_id: int, rating: int) -> None:
    response = client.post(RATINGS, json={"movie": movie_id, "rating": rating}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)


def films(app: Flask, genre: Genre, count: int, popularity: float, year: int) -> list[Movie]:
    """`count` films of one genre and year, the first the best known."""
    return [
        make_movie(
            app,
            genres=[genre],
            title=f"{genre.name} film {n}",
            popularity=popularity - n,
            vote_count=int(popularity * 10),
            release_date=date(year, 6, 1),
        )
        for n in range(count)
    ]


# --- the flow it is for --------------------------------------------------------------------


@pytest.mark.parametrize("which", ["first", "last"])
def test_a_new_user_who_rates_five_onboarding_films_gets_personal_recommendations(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str], which: str
) -> None:
    with app.app_context():
        seed_demo()  # the demo catalogue, its community of five tastes and an item model
    proposed = onboarding(client, headers)
    assert len(proposed) == 20
    before = recommendations(client, headers)
    assert {r["recommendation_type"] for r in before} == {"trending"}  # nothing to go on yet

    chosen = proposed[:FILMS_TO_RATE] if which == "first" else proposed[-FILMS_TO_RATE:]
    for item in chosen:
        rate(client, headers, item["movie"]["id"], 9)
    rated_titles = {item["movie"]["title"] for item in chosen}
    after = recommendations(client, headers)

    assert len(after) == 10
    for result in after:
        assert result["recommendation_type"] in {"collaborative", "hybrid"}, result
        assert any(title in result["explanation"] for title in rated_titles), result
        assert result["movie"]["title"] not in rated_titles


def test_the_list_is_spread_over_genres_and_decades_of_well_known_films(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    with app.app_context():
        seed_demo()
    proposed = onboarding(client, headers)

    slots = [item["genre"]["name"] for item in proposed]
    assert len(set(slots)) >= 12  # the demo catalogue has 19 genres, some of them rare
    assert len({item["decade"] for item in proposed}) >= 6
    first = proposed[0]
    assert first["explanation"] == (
        f"A well-known {first['genre']['name']} film of the {first['decade']}s"
    )
    assert first["genre"]["id"] in {genre["id"] for genre in first["movie"]["genres"]}
    assert str(first["decade"])[:3] == first["movie"]["release_date"][:3]


# --- what it leaves out --------------------------------------------------------------------


def test_it_never_proposes_what_the_user_already_has(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    drama = make_genre(app, name="Drama")
    catalogue = films(app, drama, 12, popularity=500.0, year=2010)
    proposed_before = movie_ids(onboarding(client, headers, "limit=10"))
    owned = catalogue[:6]
    assert {movie.id for movie in owned} <= set(proposed_before)  # they would be proposed
    make_entry(app, Favorite, user, owned[0])
    make_entry(app, Rating, user, owned[1], rating=3)
    make_entry(app, WatchlistEntry, user, owned[2])
    make_entry(app, WatchHistory, user, owned[3])
    make_entry(app, RecommendationFeedback, user, owned[4], feedback_type="not_interested")
    make_entry(app, RecommendationFeedback, user, owned[5], feedback_type="dislike")
    # Another member's library changes nothing for this one.
    other = make_user(app)
    make_entry(app, Favorite, other, catalogue[6])

    proposed = movie_ids(onboarding(client, headers, "limit=10"))

    assert proposed == [movie.id for movie in catalogue[6:]]
    assert catalogue[6].id not in movie_ids(onboarding(client, auth_headers(app, other)))


def test_adult_films_are_proposed_only_to_those_who_allow_mature_content(
    app: Flask, client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    drama = make_genre(app, name="Drama")
    adult = make_movie(app, genres=[drama], adult=True, popularity=900.0, vote_count=9000)
    ordinary = make_movie(app, genres=[drama])

    assert movie_ids(onboarding(client, headers)) == [ordinary.id]
    response = client.patch(
        "/api/v1/auth/users/me/", json={"profile": {"mature_content": True}}, headers=headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert set(movie_ids(onboarding(client, headers))) == {adult.id, ordinary.id}


# --- empty catalogue, no item model, bad input -----------------------------------------------


def test_an_empty_catalogue_gives_an_empty_list(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = client.get(URL, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"count": 0, "results": []}


def test_with_nothing_learned_yet_it_spreads_popular_films_over_genres_and_decades(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    action, comedy, western = (make_genre(app, name=n) for n in ("Action", "Comedy", "Western"))
    blockbusters = films(app, action, 5, popularity=900.0, year=2019)
    comedies = films(app, comedy, 3, popularity=300.0, year=2019)
    westerns = films(app, western, 3, popularity=100.0, year=1966)
    with app.app_context():
        # Nobody liked anything yet: the model is empty. (No model at all is the same
        # arithmetic, tested in tests/services/recommendation/test_onboarding.py.)
        assert train_model_version().interactions == 0

    proposed = onboarding(client, headers, "limit=3")

    # Popularity alone would take three action films; the spread takes one of each genre.
    assert movie_ids(proposed) == [blockbusters[0].id, comedies[0].id, westerns[0].id]
    assert [item["explanation"] for item in proposed] == [
        "A well-known Action film of the 2010s",
        "A well-known Comedy film of the 2010s",
        "A well-known Western film of the 1960s",
    ]
    assert [item["decade"] for item in proposed] == [2010, 2010, 1960]


def test_the_list_runs_the_same_queries_whatever_its_length(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    genres = [make_genre(app) for _ in range(4)]
    for n in range(24):
        make_movie(app, genres=[genres[n % 4]], popularity=100.0 - n)
    with app.app_context():
        train_model_version()
    onboarding(client, headers)  # the catalogue arrays are loaded once, then cached
    counts = []
    for limit in (4, 20):
        with recorded_statements(app) as statements:
            assert len(onboarding(client, headers, f"limit={limit}")) == limit
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_it_needs_a_token(client: FlaskClient) -> None:
    assert_problem(client.get(URL), 401)


@pytest.mark.parametrize("limit", ["0", "51", "many"])
def test_a_limit_out_of_range_is_a_400(
    client: FlaskClient, headers: dict[str, str], limit: str
) -> None:
    body = assert_problem(client.get(f"{URL}?limit={limit}", headers=headers), 400)
    assert "limit" in body["errors"]
