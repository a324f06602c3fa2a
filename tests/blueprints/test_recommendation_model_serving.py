"""Web workers only serve the model: they never train, they fall back to the
non-collaborative signals without a version, every worker answers alike, and a newer
version reaches them without a restart."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import Genre, ItemModelVersion, Movie
from app.services.recommendation import item_model
from tests.factories import (
    add_favorites,
    auth_headers,
    make_movie,
    make_user,
)
from tests.helpers import count_rows, train_model
from tests.worker_processes import WorkerProcess

URL = "/api/v1/recommendations/"
PERSONAL_TYPES_WITHOUT_A_MODEL = {"content_based", "trending"}


def taste_groups(app: Flask, genre: Genre) -> tuple[Movie, Movie, Movie]:
    """Heat, a film its fans also liked, and one nobody liked with it."""
    heat = make_movie(app, title="Heat", genres=[genre])
    companion = make_movie(app, title="Ronin", genres=[genre])
    stranger = make_movie(app, title="Stranger", genres=[genre])
    for _ in range(3):
        add_favorites(app, make_user(app), heat, companion)
    return heat, companion, stranger


def no_learning(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a web request learned an item model")


def test_no_request_trains_a_model_whatever_the_new_interactions(
    app: Flask,
    client: FlaskClient,
    drama: Genre,
    training_requests: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_REBUILD_AFTER", 1)
    heat, companion, _ = taste_groups(app, drama)
    user = make_user(app)
    add_favorites(app, user, heat)
    headers = auth_headers(app, user)
    monkeypatch.setattr(item_model, "learn_item_similarity", no_learning)

    for _ in range(2):  # without a version, then with new interactions since none
        assert client.get(URL, headers=headers).status_code == 200
        assert client.post(URL + "refresh/", headers=headers).status_code == 200
        assert client.get(f"{URL}similar/{heat.id}/").status_code == 200
        add_favorites(app, make_user(app), heat, companion)

    assert count_rows(app, ItemModelVersion) == 0
    assert len(training_requests) == 1  # asked for, once, and left to the job runner


def test_without_a_version_results_come_from_the_non_collaborative_signals(
    app: Flask, client: FlaskClient, drama: Genre, training_requests: list[str]
) -> None:
    heat, companion, _ = taste_groups(app, drama)
    user = make_user(app)
    add_favorites(app, user, heat)
    headers = auth_headers(app, user)

    fallback = client.post(URL + "refresh/", headers=headers).get_json()["recommendations"]
    similar = client.get(f"{URL}similar/{heat.id}/").get_json()["results"]

    assert fallback and {r["recommendation_type"] for r in fallback} <= (
        PERSONAL_TYPES_WITHOUT_A_MODEL
    )
    assert not any("Because you liked" in r["explanation"] for r in fallback)
    assert similar and all(r["recommendation_type"] != "collaborative" for r in similar)
    assert training_requests

    train_model(app)
    learned = client.post(URL + "refresh/", headers=headers).get_json()["recommendations"]
    first = learned[0]
    assert first["movie"]["id"] == companion.id
    assert first["recommendation_type"] in {"collaborative", "hybrid"}
    assert "Because you liked Heat" in first["explanation"]


@pytest.mark.committing
def test_two_worker_processes_serve_the_current_version_alike_and_pick_up_a_newer_one(
    app: Flask, drama: Genre
) -> None:
    heat, companion, stranger = taste_groups(app, drama)
    train_model(app)
    config = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "TMDB_BASE_URL": app.config["TMDB_BASE_URL"],
    }
    workers = [WorkerProcess(config), WorkerProcess(config)]
    try:
        path = f"{URL}similar/{heat.id}/?limit=3"
        first = [worker.get(path) for worker in workers]
        assert first[0][0] != first[1][0]  # two processes
        assert first[0][1:] == first[1][1:] and first[0][1] == 200
        assert first[0][2]["results"][0]["movie"]["id"] == companion.id

        for _ in range(6):  # tastes move on; a job trains a newer version
            add_favorites(app, make_user(app), heat, stranger)
        train_model(app)

        second = [worker.get(path) for worker in workers]
        assert second[0][1:] == second[1][1:]
        assert second[0][2]["results"][0]["movie"]["id"] == stranger.id  # no restart
        assert [worker.stop() for worker in workers] == [0, 0]  # neither learned a model
    finally:
        for worker in workers:
            worker.kill()
