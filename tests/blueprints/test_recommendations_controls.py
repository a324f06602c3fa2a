"""What users steer and keep through the recommendations API: ids that name the same movie
across regenerations, clicks and ratings that stay true, dismiss and undo, filters applied
before the list is cut, and structured reasons that match the sentence."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Favorite,
    Genre,
    Movie,
    Recommendation,
    RecommendationFeedback,
    User,
    WatchHistory,
    WatchlistEntry,
)
from app.models.recommendations import RECOMMENDATION_TYPES
from tests.factories import auth_headers, make_entry, make_genre, make_movie, make_user
from tests.helpers import assert_problem, make_catalogue, recommendations_stale

URL = "/api/v1/recommendations/"


def listed(client: Any, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    response = client.get(URL, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_movie(items: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {item["movie"]["id"]: item for item in items}


# --- identity ----------------------------------------------------------------------------


def test_a_recommendation_keeps_its_id_across_regenerations_and_clicks_stay(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    movies = make_catalogue(app, 30)
    first = by_movie(listed(client, headers)["results"])
    clicked = next(iter(first.values()))
    assert client.post(f"{URL}{clicked['id']}/click/", headers=headers).status_code == 200
    rated = list(first.values())[1]
    rating = client.post(
        "/api/v1/favorites/ratings/",
        json={"movie": rated["movie"]["id"], "rating": 9},
        headers=headers,
    )
    assert rating.status_code == 201

    refreshed = by_movie(
        client.post(URL + "refresh/", headers=headers).get_json()["recommendations"]
    )

    stayed = set(first) & set(refreshed)
    assert stayed, "some movies stay across the regeneration"
    assert all(refreshed[movie]["id"] == first[movie]["id"] for movie in stayed)
    assert refreshed[clicked["movie"]["id"]]["is_clicked"] is True
    assert rated["movie"]["id"] not in refreshed  # rated: no longer recommended
    new_ids = {refreshed[movie]["id"] for movie in set(refreshed) - set(first)}
    assert new_ids.isdisjoint(item["id"] for item in first.values())
    with app.app_context():
        row = db.session.get(Recommendation, rated["id"])
        assert row is not None and row.is_rated and row.removed_at is not None
    assert len(movies) == 30


def test_a_click_on_a_since_removed_recommendation_still_names_its_movie(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    make_catalogue(app, 25)
    first = listed(client, headers)["results"][0]
    favorite = client.post(
        "/api/v1/favorites/favorites/", json={"movie": first["movie"]["id"]}, headers=headers
    )
    assert favorite.status_code == 201
    listed(client, headers)  # regenerated: the favourite is no longer recommended

    clicked = client.post(f"{URL}{first['id']}/click/", headers=headers)

    assert clicked.status_code == 200
    body = clicked.get_json()
    assert body["movie"]["id"] == first["movie"]["id"] and body["is_clicked"] is True
    with app.app_context():
        row = db.session.get(Recommendation, first["id"])
        assert row is not None and row.favorited_at is not None


# --- dismiss and undo --------------------------------------------------------------------


def test_dismiss_is_204_and_the_movie_never_comes_back(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    make_catalogue(app, 30)
    before = listed(client, headers)["results"]
    dismissed = before[0]

    response = client.delete(f"{URL}{dismissed['id']}/", headers=headers)

    assert response.status_code == 204 and response.data == b""
    assert recommendations_stale(app, user)
    after = listed(client, headers)["results"]
    refreshed = client.post(URL + "refresh/", headers=headers).get_json()["recommendations"]
    for batch in (after, refreshed):
        assert dismissed["movie"]["id"] not in by_movie(batch)
        assert len(batch) == 20
    feedback = client.get(URL + "feedback/list/", headers=headers).get_json()["results"]
    assert [(item["feedback_type"], item["recommendation"]) for item in feedback] == [
        ("dismissed", dismissed["id"])
    ]
    # Dismissing again is harmless.
    assert client.delete(f"{URL}{dismissed['id']}/", headers=headers).status_code == 204


def test_deleting_the_feedback_undoes_a_dismissal_and_the_movie_keeps_its_id(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    make_catalogue(app, 30)
    dismissed = listed(client, headers)["results"][0]
    client.delete(f"{URL}{dismissed['id']}/", headers=headers)
    feedback_id = client.get(URL + "feedback/list/", headers=headers).get_json()["results"][0]["id"]

    response = client.delete(f"{URL}feedback/{feedback_id}/", headers=headers)

    assert response.status_code == 204
    assert recommendations_stale(app, user)
    back = by_movie(listed(client, headers)["results"])
    assert back[dismissed["movie"]["id"]]["id"] == dismissed["id"]
    assert back[dismissed["movie"]["id"]]["feedback"] is None
    with app.app_context():
        assert db.session.scalars(select(RecommendationFeedback)).all() == []
    assert_problem(
        client.delete(f"{URL}feedback/{feedback_id}/", headers=headers), 404, "feedback_not_found"
    )


def test_another_users_recommendation_or_feedback_is_404_and_left_alone(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    make_catalogue(app, 25)
    theirs = listed(client, headers)["results"][0]
    client.post(
        URL + "feedback/",
        json={"recommendation": theirs["id"], "feedback_type": "like"},
        headers=headers,
    )
    their_feedback = client.get(URL + "feedback/list/", headers=headers).get_json()["results"][0]
    intruder = auth_headers(app, make_user(app))

    for response in (
        client.delete(f"{URL}{theirs['id']}/", headers=intruder),
        client.post(f"{URL}{theirs['id']}/click/", headers=intruder),
        client.post(
            URL + "feedback/",
            json={"recommendation": theirs["id"], "feedback_type": "dislike"},
            headers=intruder,
        ),
    ):
        assert_problem(response, 404, "recommendation_not_found")
    assert_problem(
        client.delete(f"{URL}feedback/{their_feedback['id']}/", headers=intruder),
        404,
        "feedback_not_found",
    )

    with app.app_context():
        row = db.session.get(Recommendation, theirs["id"])
        assert row is not None and row.removed_at is None and row.clicked_at is None
        feedback = db.session.get(RecommendationFeedback, their_feedback["id"])
        assert feedback is not None and feedback.feedback_type == "like"


def test_dismissing_requires_a_token(client: Any) -> None:
    assert_problem(client.delete(f"{URL}1/"), 401)
    assert_problem(client.delete(f"{URL}feedback/1/"), 401)


# --- reasons -----------------------------------------------------------------------------


def test_every_recommendation_carries_reasons_that_name_what_the_sentence_names(
    app: Flask, client: Any, user: User, headers: dict[str, str]
) -> None:
    action, drama = make_genre(app, name="Action"), make_genre(app, name="Drama")
    liked = make_catalogue(app, 3, [action])
    make_catalogue(app, 20, [action])
    make_catalogue(app, 20, [drama])
    for movie in liked:
        response = client.post(
            "/api/v1/favorites/favorites/", json={"movie": movie.id}, headers=headers
        )
        assert response.status_code == 201

    results = listed(client, headers)["results"]

    assert len(results) == 20
    for item in results:
        assert item["reasons"], item
        for reason in item["reasons"]:
            if reason["kind"] == "liked_movie":
                assert reason["movie"]["title"] in item["explanation"]
                assert reason["movie"]["id"] in {movie.id for movie in liked}
            elif reason["kind"] == "genre":
                assert reason["genre"] == {"id": action.tmdb_id, "name": "Action"}
                assert "Action" in item["explanation"]
            else:
                assert reason["kind"] in {"popular", "highly_rated", "new"}
                assert item["recommendation_type"] == "trending"


# --- filters -----------------------------------------------------------------------------


@pytest.fixture
def varied(app: Flask) -> dict[str, list[Movie]]:
    """40 popular English dramas of 2012, 150 minutes, then 25 films of each other kind
    further down in popularity (beyond the first 20, so only a filter reaches them)."""
    drama, comedy, western = (make_genre(app, name=n) for n in ("Drama", "Comedy", "Western"))
    kinds: dict[str, list[Movie]] = {"common": [], "comedy": [], "western": []}
    kinds |= {"nineties": [], "short": [], "korean": [], "unknown_runtime": []}
    specs = [
        ("common", 40, [drama], {}),
        ("comedy", 25, [comedy], {}),
        ("western", 5, [western], {}),
        ("nineties", 25, [drama], {"release_date": date(1995, 6, 1)}),
        ("short", 25, [drama], {"runtime": 85}),
        ("korean", 25, [drama], {"original_language": "ko"}),
        ("unknown_runtime", 5, [drama], {"runtime": None}),
    ]
    popularity = 1000.0
    for kind, count, genres, fields in specs:
        for n in range(count):
            popularity -= 1
            values = {
                "release_date": date(2012, 1, 1),
                "runtime": 150,
                "original_language": "en",
                **fields,
            }
            kinds[kind].append(
                make_movie(
                    app,
                    genres=genres,
                    title=f"{kind} {n}",
                    popularity=popularity,
                    vote_average=7.5,
                    vote_count=1000,
                    **values,
                )
            )
    return kinds


def ids_of(movies: list[Movie]) -> set[int]:
    return {movie.id for movie in movies}


@pytest.mark.parametrize(
    ("query", "wanted", "matched"),
    [
        ({"genre": [], "year_max": 2000}, ["nineties"], 25),
        ({"year_min": 1990, "year_max": 1999}, ["nineties"], 25),
        ({"runtime_max": 100}, ["short"], 25),
        ({"language": "KO"}, ["korean"], 25),
        ({"genre": "COMEDY+WESTERN"}, ["comedy", "western"], 30),
        ({"genre": "WESTERN"}, ["western"], 5),
    ],
)
def test_each_filter_gives_a_full_page_of_what_passes_it(
    app: Flask,
    client: Any,
    user: User,
    headers: dict[str, str],
    varied: dict[str, list[Movie]],
    query: dict[str, Any],
    wanted: list[str],
    matched: int,
) -> None:
    with app.app_context():
        genre_ids = {g.name.upper(): g.tmdb_id for g in db.session.scalars(select(Genre))}
    if isinstance(query.get("genre"), str):
        query = {**query, "genre": [genre_ids[name] for name in query["genre"].split("+")]}
    allowed = set().union(*(ids_of(varied[kind]) for kind in wanted))

    body = listed(client, headers, **query)

    assert body["matched"] == matched
    assert len(body["results"]) == min(20, matched) == body["count"]
    assert {item["movie"]["id"] for item in body["results"]} <= allowed
    assert [item["rank"] for item in body["results"]] == list(range(1, body["count"] + 1))
    # The unfiltered list holds fewer of them: the filter reached past its cut.
    unfiltered = {item["movie"]["id"] for item in listed(client, headers)["results"]}
    assert len(unfiltered & allowed) < len(body["results"])


def test_the_limit_and_pages_apply_to_the_filtered_list(
    app: Flask, client: Any, user: User, headers: dict[str, str], varied: dict[str, list[Movie]]
) -> None:
    first = listed(client, headers, runtime_max=100, limit=12, page_size=5)
    third = listed(client, headers, runtime_max=100, limit=12, page_size=5, page=3)

    assert first["count"] == 12 and first["matched"] == 25
    assert [item["rank"] for item in third["results"]] == [11, 12]
    assert_problem(
        client.get(URL, query_string={"runtime_max": 100, "limit": 12, "page": 4}, headers=headers),
        404,
        "page_not_found",
    )


def test_watchlisted_and_watched_films_are_left_out_unless_asked_for(
    app: Flask, client: Any, user: User, headers: dict[str, str], varied: dict[str, list[Movie]]
) -> None:
    planned, seen = varied["common"][0], varied["common"][1]
    make_entry(app, WatchlistEntry, user, planned)
    make_entry(app, WatchHistory, user, seen)

    default = {item["movie"]["id"] for item in listed(client, headers)["results"]}
    with_planned = listed(client, headers, exclude_watchlisted="false")
    with_seen = listed(client, headers, exclude_watched="false")

    assert planned.id not in default and seen.id not in default and len(default) == 20
    assert planned.id in by_movie(with_planned["results"])
    assert seen.id not in by_movie(with_planned["results"])
    assert seen.id in by_movie(with_seen["results"])
    assert planned.id not in by_movie(with_seen["results"])
    total = len(varied["common"]) + sum(len(v) for k, v in varied.items() if k != "common")
    assert with_planned["matched"] == with_seen["matched"] == total - 1


def test_the_type_filter_chooses_among_the_candidates_before_ranking(
    app: Flask, client: Any, user: User, headers: dict[str, str], varied: dict[str, list[Movie]]
) -> None:
    for movie in varied["western"][:2]:  # liking westerns makes westerns content based
        make_entry(app, Favorite, user, movie)

    by_type = {kind: listed(client, headers, type=kind) for kind in RECOMMENDATION_TYPES}
    everything = listed(client, headers, exclude_watched="false")  # a filter, nothing less

    assert sum(body["matched"] for body in by_type.values()) == everything["matched"]
    for kind, body in by_type.items():
        assert all(item["recommendation_type"] == kind for item in body["results"]), kind
        assert len(body["results"]) == min(20, body["matched"])
    assert by_type["content_based"]["matched"] == 3  # the other westerns
    assert by_type["trending"]["matched"] > 20
