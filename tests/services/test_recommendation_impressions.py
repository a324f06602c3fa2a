"""Impressions (one INSERT per served list, with the positions shown), outcomes attributed to
the latest impression of the movie within the window and never after it, and pruning."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Favorite,
    Movie,
    Rating,
    RecommendationFeedback,
    RecommendationImpression,
    RecommendationOutcome,
    User,
    WatchHistory,
    utcnow,
)
from app.services.imports.importer import import_file
from app.services.recommendation.batches import generate_recommendations
from app.services.recommendation_impressions import insert_impressions, record_outcome
from tests.factories import auth_headers, make_entry, make_movie, make_user
from tests.helpers import store_batch
from tests.query_count import recorded_statements

V1 = "/api/v1"
RECOMMENDATIONS = f"{V1}/recommendations/"


def make_catalogue(app: Flask, count: int) -> list[Movie]:
    return [
        make_movie(
            app, title=f"Shown film {n}", popularity=500.0 - n, release_date=date(2012, 1, 1)
        )
        for n in range(count)
    ]


def impressions(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(
                    RecommendationImpression.user_id,
                    RecommendationImpression.movie_id,
                    RecommendationImpression.rank,
                    RecommendationImpression.recommendation_type,
                    RecommendationImpression.model_version,
                    RecommendationImpression.cold_start,
                ).order_by(RecommendationImpression.id)
            )
        ]


def shown(app: Flask, user: User, movie: Movie, days_ago: float, kind: str = "hybrid") -> int:
    """An impression of `movie` to `user` `days_ago` days ago; its id."""
    with app.app_context():
        impression = RecommendationImpression(
            user_id=user.id,
            movie_id=movie.id,
            rank=1,
            recommendation_type=kind,
            model_version="test@1",
            cold_start=False,
            shown_at=utcnow() - timedelta(days=days_ago),
        )
        db.session.add(impression)
        db.session.commit()
        return impression.id


def outcomes(app: Flask) -> list[tuple[int, str, float | None]]:
    with app.app_context():
        return [
            (row.impression_id, row.kind, row.rating)
            for row in db.session.execute(
                select(
                    RecommendationOutcome.impression_id,
                    RecommendationOutcome.kind,
                    RecommendationOutcome.rating,
                ).order_by(RecommendationOutcome.id)
            )
        ]


# --- impressions ---------------------------------------------------------------------------


def test_a_served_page_is_logged_once_with_the_positions_shown(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDATION_MODEL_VERSION", "ease@42")
    user = make_user(app)
    movies = make_catalogue(app, 6)
    store_batch(app, user, movies, kind="collaborative")
    headers = auth_headers(app, user)

    with recorded_statements(app) as statements:
        response = client.get(
            RECOMMENDATIONS,
            query_string={"limit": 6, "page": 2, "page_size": 2},
            headers=headers,
        )

    assert response.status_code == 200, response.get_json()
    served = [item["movie"]["id"] for item in response.get_json()["results"]]
    assert served == [movies[2].id, movies[3].id]
    assert impressions(app) == [
        (user.id, movies[2].id, 3, "collaborative", "ease@42", True),
        (user.id, movies[3].id, 4, "collaborative", "ease@42", True),
    ]
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1 and "recommendation_impressions" in inserts[0]


@pytest.mark.usefixtures("postgres_only")
def test_the_impressions_transaction_skips_the_wait_for_the_disk(app: Flask) -> None:
    user = make_user(app)
    movie = make_catalogue(app, 1)[0]
    with app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        insert_impressions(connection, user.id, [(movie.id, 1, "genre")], "ease@1", False)
        # For this transaction only (SET LOCAL): telemetry may lose its last moment in a
        # crash; nothing else may.
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        db.session.commit()
    assert impressions(app) == [(user.id, movie.id, 1, "genre", "ease@1", False)]


def test_every_request_logs_what_it_served(app: Flask, client: Any) -> None:
    user = make_user(app)
    movies = make_catalogue(app, 3)
    store_batch(app, user, movies)
    headers = auth_headers(app, user)
    for _ in range(2):
        response = client.get(RECOMMENDATIONS, query_string={"limit": 3}, headers=headers)
        assert response.status_code == 200
    assert [row[1:3] for row in impressions(app)] == [
        (movie.id, rank) for _ in range(2) for rank, movie in enumerate(movies, start=1)
    ]


def test_a_user_with_a_favorite_is_not_cold_start(app: Flask, client: Any) -> None:
    user = make_user(app)
    movies = make_catalogue(app, 3)
    make_entry(app, Favorite, user, make_movie(app))
    store_batch(app, user, movies)
    response = client.get(
        RECOMMENDATIONS, query_string={"limit": 3}, headers=auth_headers(app, user)
    )
    assert response.status_code == 200
    assert len(impressions(app)) == 3
    assert {row[5] for row in impressions(app)} == {False}


@pytest.mark.parametrize(
    ("model", "fields", "cold_start"),
    [
        (Rating, {"rating": 8}, False),
        (Rating, {"rating": 5}, True),  # below 7: not a positive signal
        (WatchHistory, {}, False),
        (RecommendationFeedback, {"feedback_type": "like"}, False),
        (RecommendationFeedback, {"feedback_type": "dislike"}, True),
    ],
)
def test_the_stored_list_stamps_the_users_cold_start_as_read_with_the_batch(
    app: Flask, client: Any, model: type[Any], fields: dict[str, Any], cold_start: bool
) -> None:
    user = make_user(app)
    movies = make_catalogue(app, 3)
    make_entry(app, model, user, make_movie(app), **fields)
    store_batch(app, user, movies)
    response = client.get(
        RECOMMENDATIONS, query_string={"limit": 3}, headers=auth_headers(app, user)
    )
    assert response.status_code == 200
    assert [row[5] for row in impressions(app)] == [cold_start] * 3


def test_a_first_list_is_generated_then_logged_with_the_cold_start(app: Flask, client: Any) -> None:
    user = make_user(app)  # no profile, no batch: the GET generates one
    make_catalogue(app, 4)
    response = client.get(
        RECOMMENDATIONS, query_string={"limit": 4}, headers=auth_headers(app, user)
    )
    assert response.status_code == 200
    served = [item["movie"]["id"] for item in response.get_json()["results"]]
    assert len(served) == 4
    assert [(row[1], row[2], row[5]) for row in impressions(app)] == [
        (movie_id, rank, True) for rank, movie_id in enumerate(served, start=1)
    ]


def refresh(
    app: Flask, client: Any, headers: dict[str, str], *, limit: int
) -> tuple[Any, list[str]]:
    """A refresh of `limit` recommendations, and the statements it sent."""
    with recorded_statements(app) as statements:
        response = client.post(
            f"{RECOMMENDATIONS}refresh/", query_string={"limit": limit}, headers=headers
        )
    assert response.status_code == 200, response.get_json()
    return response, statements


def test_a_refresh_logs_the_list_it_served_in_one_insert(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDATION_MODEL_VERSION", "ease@7")
    user = make_user(app)
    make_catalogue(app, 6)
    make_entry(app, Favorite, user, make_movie(app))
    headers = auth_headers(app, user)

    response, statements = refresh(app, client, headers, limit=5)
    served = response.get_json()["recommendations"]
    assert len(served) == 5
    assert impressions(app) == [
        (user.id, item["movie"]["id"], rank, item["recommendation_type"], "ease@7", False)
        for rank, item in enumerate(served, start=1)
    ]
    logged = [s for s in statements if "INSERT INTO recommendation_impressions" in s]
    assert len(logged) == 1


@pytest.mark.parametrize("has_favorite", [False, True])
def test_a_refresh_stamps_the_cold_start_read_with_the_new_batch(
    app: Flask, client: Any, has_favorite: bool
) -> None:
    user = make_user(app)
    make_catalogue(app, 4)
    if has_favorite:
        make_entry(app, Favorite, user, make_movie(app))
    headers = auth_headers(app, user)

    _response, statements = refresh(app, client, headers, limit=3)
    assert [row[5] for row in impressions(app)] == [not has_favorite] * 3
    # Read with the batch, not asked by a query of its own.
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT NOT")]


def test_a_regeneration_nobody_is_shown_logs_nothing(app: Flask) -> None:
    """The admin's action and `flask recommend` store batches without showing them."""
    user = make_user(app)
    make_catalogue(app, 3)
    with app.app_context(), app.test_request_context():
        assert len(generate_recommendations(user.id, 3)) == 3
    assert impressions(app) == []


def test_logging_off_logs_nothing_and_still_serves(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDATION_IMPRESSIONS_ENABLED", False)
    user = make_user(app)
    store_batch(app, user, make_catalogue(app, 3))
    response = client.get(
        RECOMMENDATIONS, query_string={"limit": 3}, headers=auth_headers(app, user)
    )
    assert response.status_code == 200 and len(response.get_json()["results"]) == 3
    assert impressions(app) == []


def test_the_configured_model_version_is_stamped(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDATION_MODEL_VERSION", "ab-test-b")
    user = make_user(app)
    store_batch(app, user, make_catalogue(app, 2))
    client.get(RECOMMENDATIONS, query_string={"limit": 2}, headers=auth_headers(app, user))
    assert [row[4] for row in impressions(app)] == ["ab-test-b", "ab-test-b"]


# --- outcomes ------------------------------------------------------------------------------


def act(app: Flask, client: Any, user: User, movie: Movie, kind: str) -> None:
    """Do `kind` to `movie` through the API, as `user`."""
    headers = auth_headers(app, user)
    recommendation_id = store_batch(app, user, [movie])[0]
    requests = {
        "click": ("post", f"{RECOMMENDATIONS}{recommendation_id}/click/", None),
        "favorite": ("post", f"{V1}/favorites/favorites/", {"movie": movie.id}),
        "rating": ("post", f"{V1}/favorites/ratings/", {"movie": movie.id, "rating": 8}),
        "watchlist": ("post", f"{V1}/favorites/watchlist/", {"movie": movie.id}),
        "watch": ("post", f"{V1}/movies/history/", {"movie": movie.id}),
        "dismiss": ("delete", f"{RECOMMENDATIONS}{recommendation_id}/", None),
    }
    for feedback in ("like", "dislike", "not_interested"):
        body = {"recommendation": recommendation_id, "feedback_type": feedback}
        requests[feedback] = ("post", f"{RECOMMENDATIONS}feedback/", body)
    method, url, body = requests[kind]
    response = getattr(client, method)(url, json=body, headers=headers)
    assert response.status_code in (200, 201, 204), response.get_json()


OUTCOMES = [
    "click",
    "favorite",
    "rating",
    "watchlist",
    "watch",
    "like",
    "dislike",
    "not_interested",
    "dismiss",
]


@pytest.mark.parametrize("kind", OUTCOMES)
def test_an_outcome_goes_to_the_latest_impression_within_the_window(
    app: Flask, client: Any, kind: str
) -> None:
    user, other = make_user(app), make_user(app)
    movie = make_movie(app)
    shown(app, user, movie, days_ago=6.5)
    latest = shown(app, user, movie, days_ago=2)
    shown(app, other, movie, days_ago=1)  # someone else's impression is not theirs

    act(app, client, user, movie, kind)

    assert outcomes(app) == [(latest, kind, 8.0 if kind == "rating" else None)]


@pytest.mark.parametrize("kind", OUTCOMES)
def test_an_outcome_after_the_window_is_not_attributed(app: Flask, client: Any, kind: str) -> None:
    user = make_user(app)
    movie = make_movie(app)
    shown(app, user, movie, days_ago=7.1)
    act(app, client, user, movie, kind)
    assert outcomes(app) == []


def test_the_window_is_a_setting(app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDATION_OUTCOME_WINDOW_DAYS", 30)
    user = make_user(app)
    movie = make_movie(app)
    impression = shown(app, user, movie, days_ago=20)
    act(app, client, user, movie, "favorite")
    assert outcomes(app) == [(impression, "favorite", None)]


def test_a_viewing_dated_before_the_impression_is_not_credited_to_it(
    app: Flask, client: Any
) -> None:
    user = make_user(app)
    movie = make_movie(app)
    shown(app, user, movie, days_ago=1)
    watched_at = (utcnow() - timedelta(days=3)).isoformat()
    response = client.post(
        f"{V1}/movies/history/",
        json={"movie": movie.id, "watched_at": watched_at},
        headers=auth_headers(app, user),
    )
    assert response.status_code == 201, response.get_json()
    assert outcomes(app) == []


def test_changing_a_rating_is_an_outcome_with_the_new_score(app: Flask, client: Any) -> None:
    user = make_user(app)
    movie = make_movie(app)
    headers = auth_headers(app, user)
    created = client.post(
        f"{V1}/favorites/ratings/", json={"movie": movie.id, "rating": 5}, headers=headers
    )
    assert created.status_code == 201
    impression = shown(app, user, movie, days_ago=0.5)
    changed = client.patch(
        f"{V1}/favorites/ratings/{created.get_json()['id']}/", json={"rating": 9}, headers=headers
    )
    assert changed.status_code == 200, changed.get_json()
    assert outcomes(app) == [(impression, "rating", 9.0)]


def test_an_action_on_a_movie_never_shown_records_nothing(app: Flask, client: Any) -> None:
    user = make_user(app)
    act(app, client, user, make_movie(app), "favorite")
    assert outcomes(app) == []


# --- retention -----------------------------------------------------------------------------


def test_prune_deletes_impressions_past_the_retention_with_their_outcomes(
    app: Flask, client: Any, runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDATION_IMPRESSION_RETENTION_DAYS", 30)
    user = make_user(app)
    old_movie, recent_movie = make_movie(app), make_movie(app)
    shown(app, user, old_movie, days_ago=31)
    monkeypatch.setitem(app.config, "RECOMMENDATION_OUTCOME_WINDOW_DAYS", 60)
    act(app, client, user, old_movie, "favorite")
    recent = shown(app, user, recent_movie, days_ago=10)
    assert len(outcomes(app)) == 1

    result = runner.invoke(args=["prune-impressions"])

    assert result.exit_code == 0, result.output
    assert "Removed 1 impression(s)." in result.output
    with app.app_context():
        assert list(db.session.scalars(select(RecommendationImpression.id))) == [recent]
    assert outcomes(app) == []

    shorter = runner.invoke(args=["prune-impressions", "--days", "5"])
    assert "Removed 1 impression(s)." in shorter.output
    assert impressions(app) == []


# --- Prometheus ----------------------------------------------------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_impressions_and_outcomes_are_counted_for_prometheus(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDATION_MODEL_VERSION", "promtest@3")
    labels = {"model": "promtest", "recommendation_type": "content_based"}
    shown_before = sample("recommendation_impressions_total", **labels)
    rated_before = sample("recommendation_outcomes_total", **labels, outcome="rating_7_plus")
    user = make_user(app)
    movies = make_catalogue(app, 2)
    store_batch(app, user, movies)
    headers = auth_headers(app, user)

    client.get(RECOMMENDATIONS, query_string={"limit": 2}, headers=headers)
    client.post(
        f"{V1}/favorites/ratings/", json={"movie": movies[0].id, "rating": 9}, headers=headers
    )

    assert sample("recommendation_impressions_total", **labels) == shown_before + 2
    assert (
        sample("recommendation_outcomes_total", **labels, outcome="rating_7_plus")
        == rated_before + 1
    )


def test_an_imported_history_is_not_an_outcome(app: Flask) -> None:
    user = make_user(app)
    movie = make_movie(app, tmdb_id=910001, title="Imported One", release_date=date(2001, 1, 1))
    shown(app, user, movie, days_ago=1)
    export = "Title,Year,tmdbID,imdbID,Rating10,WatchedDate,Review\nImported One,2001,910001,,9,,\n"
    with app.app_context():
        finished = import_file(user.id, data=export.encode(), filename="export.csv")
        assert finished.status == "completed" and finished.counts["created"] >= 1
    assert outcomes(app) == []


def test_a_dismissal_is_attributed_like_any_other_outcome(app: Flask) -> None:
    # DELETE recommendations/{id}/ records "dismiss" through record_outcome.
    user = make_user(app)
    recent, old = make_movie(app), make_movie(app)
    impression = shown(app, user, recent, days_ago=3)
    shown(app, user, old, days_ago=8)
    with app.app_context():
        assert record_outcome(user.id, recent.id, "dismiss") is not None
        assert record_outcome(user.id, old.id, "dismiss") is None
        db.session.commit()
    assert outcomes(app) == [(impression, "dismiss", None)]
