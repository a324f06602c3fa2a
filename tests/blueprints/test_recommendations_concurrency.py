"""Concurrent refreshes and feedback for the same user, on the real PostgreSQL: no 500, no
duplicate rows, one consistent batch."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Recommendation, RecommendationFeedback, UserProfile
from tests.factories import auth_headers, make_movie, make_user

URL = "/api/v1/recommendations/"
THREADS = 6

pytestmark = [pytest.mark.committing, pytest.mark.postgres]


def run_together(app: Flask, requests: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    """Send the requests from as many threads at once; returns (status, body) in order."""
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def send(index: int, method: str, path: str, kwargs: dict[str, Any]) -> None:
        client = app.test_client()
        barrier.wait()
        response = getattr(client, method)(path, **kwargs)
        answers[index] = (response.status_code, response.get_json())

    threads = [
        threading.Thread(target=send, args=(index, *request))
        for index, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def catalogue(app: Flask, count: int) -> None:
    for n in range(count):
        make_movie(app, popularity=900.0 - n, vote_count=3000, release_date=date(2014, 6, 1))


def assert_one_clean_batch(app: Flask, user_id: int, size: int) -> None:
    with app.app_context():
        rows = db.session.execute(
            select(Recommendation.movie_id, Recommendation.rank).where(
                Recommendation.user_id == user_id
            )
        ).all()
        profile = db.session.scalar(select(UserProfile).where(UserProfile.user_id == user_id))
    assert len(rows) == size
    assert sorted(rank for _, rank in rows) == list(range(1, size + 1))
    assert max(Counter(movie_id for movie_id, _ in rows).values()) == 1
    assert profile is not None and profile.recommendations_stale is False


def test_concurrent_refreshes_of_one_user_leave_one_batch(app: Flask, postgres_only: None) -> None:
    catalogue(app, 40)
    user = make_user(app)
    headers = auth_headers(app, user)

    answers = run_together(app, [("post", URL + "refresh/", {"headers": headers})] * THREADS)

    assert [status for status, _ in answers] == [200] * THREADS, answers
    assert all(len(body["recommendations"]) == 20 for _, body in answers)
    assert_one_clean_batch(app, user.id, 20)


def test_concurrent_first_gets_generate_one_batch(app: Flask, postgres_only: None) -> None:
    catalogue(app, 40)
    user = make_user(app)
    headers = auth_headers(app, user)

    answers = run_together(app, [("get", URL, {"headers": headers})] * THREADS)

    assert [status for status, _ in answers] == [200] * THREADS, answers
    bodies = [body["results"] for _, body in answers]
    assert all(len(results) == 20 for results in bodies)
    assert_one_clean_batch(app, user.id, 20)
    # Regenerating at most once: every caller saw the same stored rows.
    assert len({tuple(item["id"] for item in results) for results in bodies}) == 1


def test_concurrent_feedback_on_one_recommendation_keeps_one_row(
    app: Flask, postgres_only: None
) -> None:
    catalogue(app, 25)
    user = make_user(app)
    headers = auth_headers(app, user)
    first = app.test_client().get(URL, headers=headers).get_json()["results"][0]
    payload = {"recommendation": first["id"], "feedback_type": "dislike"}

    answers = run_together(
        app, [("post", URL + "feedback/", {"json": payload, "headers": headers})] * THREADS
    )

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (THREADS - 1) + [201], answers
    with app.app_context():
        rows = db.session.scalars(select(RecommendationFeedback)).all()
    assert [(row.movie_id, row.feedback_type) for row in rows] == [
        (first["movie"]["id"], "dislike")
    ]
