"""GET recommendations/metrics/: staff only, and the right figures on a history whose answer
is known (per model version and type, in total, day by day)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from app.extensions import db
from app.models import Movie, RecommendationImpression, RecommendationOutcome, User, utcnow
from tests.factories import auth_headers, make_movie, make_user
from tests.helpers import assert_problem

URL = "/api/v1/recommendations/metrics/"
DAY_1 = date(2026, 11, 10)
DAY_2 = date(2026, 11, 12)
RANGE = {"from": "2026-11-10", "to": "2026-11-12"}


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def impression(
    user: User, movie: Movie, version: str, kind: str, when: datetime, *, cold: bool
) -> RecommendationImpression:
    return RecommendationImpression(
        user_id=user.id,
        movie_id=movie.id,
        rank=1,
        recommendation_type=kind,
        model_version=version,
        cold_start=cold,
        shown_at=when,
    )


def outcome(
    shown: RecommendationImpression, kind: str, rating: float | None = None
) -> RecommendationOutcome:
    return RecommendationOutcome(
        impression=shown, kind=kind, rating=rating, occurred_at=shown.shown_at + timedelta(hours=1)
    )


@pytest.fixture
def history(app: Flask) -> None:
    """Ten live movies (and one removed); v1/collaborative shown on DAY_1 to a warm user
    (m1, m2) and a cold one (m1, m3); v2/trending shown on DAY_2 to a cold user (m4, m5);
    one impression the day before the range."""
    movies = [make_movie(app) for _ in range(10)]
    make_movie(app, deleted_at=utcnow())
    warm, cold, newcomer = make_user(app), make_user(app), make_user(app)
    m1, m2, m3, m4, m5 = movies[:5]
    with app.app_context():
        a1 = impression(warm, m1, "v1", "collaborative", at(DAY_1, 9), cold=False)
        a2 = impression(warm, m2, "v1", "collaborative", at(DAY_1, 9), cold=False)
        b1 = impression(cold, m1, "v1", "collaborative", at(DAY_1, 23), cold=True)
        b3 = impression(cold, m3, "v1", "collaborative", at(DAY_1, 23), cold=True)
        c4 = impression(newcomer, m4, "v2", "trending", at(DAY_2, 0), cold=True)
        c5 = impression(newcomer, m5, "v2", "trending", at(DAY_2, 0), cold=True)
        before = impression(
            warm, m5, "v1", "collaborative", at(DAY_1, 0) - timedelta(seconds=1), cold=False
        )
        db.session.add_all([a1, a2, b1, b3, c4, c5, before])
        db.session.add_all(
            [
                outcome(a1, "click"),
                outcome(a1, "favorite"),  # clicked and converted
                outcome(a2, "rating", 5),  # a low rating: no conversion
                outcome(b3, "not_interested"),  # dismissed
                outcome(c4, "click"),
                outcome(c4, "click"),  # two clicks: one clicked impression
                outcome(c4, "rating", 8),  # converted
                outcome(before, "click"),  # outside the range
            ]
        )
        db.session.commit()


def staff_headers(app: Flask) -> dict[str, str]:
    return auth_headers(app, make_user(app, is_staff=True))


def test_figures_per_model_version_and_type(app: Flask, client: Any, history: None) -> None:
    response = client.get(URL, query_string=RANGE, headers=staff_headers(app))
    body = response.get_json()
    assert response.status_code == 200, body
    assert (body["from"], body["to"]) == ("2026-11-10", "2026-11-12")
    assert body["catalogue_size"] == 10 and body["attribution_window_days"] == 7
    assert body["groups"] == [
        {
            "model_version": "v1",
            "recommendation_type": "collaborative",
            "impressions": 4,
            "clicks": 1,
            "conversions": 1,
            "dismissals": 1,
            "users": 2,
            "cold_start_users": 1,
            "movies": 3,
            "click_through_rate": 0.25,
            "conversion_rate": 0.25,
            "dismissal_rate": 0.25,
            "catalogue_coverage": 0.3,
            "cold_start_share": 0.5,
        },
        {
            "model_version": "v2",
            "recommendation_type": "trending",
            "impressions": 2,
            "clicks": 1,
            "conversions": 1,
            "dismissals": 0,
            "users": 1,
            "cold_start_users": 1,
            "movies": 2,
            "click_through_rate": 0.5,
            "conversion_rate": 0.5,
            "dismissal_rate": 0.0,
            "catalogue_coverage": 0.2,
            "cold_start_share": 1.0,
        },
    ]


def test_totals_count_distinct_users_and_movies_across_groups(
    app: Flask, client: Any, history: None
) -> None:
    body = client.get(URL, query_string=RANGE, headers=staff_headers(app)).get_json()
    assert body["total"] == {
        "impressions": 6,
        "clicks": 2,
        "conversions": 2,
        "dismissals": 1,
        "users": 3,
        "cold_start_users": 2,
        "movies": 5,
        "click_through_rate": 0.3333,
        "conversion_rate": 0.3333,
        "dismissal_rate": 0.1667,
        "catalogue_coverage": 0.5,
        "cold_start_share": 0.6667,
    }


def test_every_day_of_the_range_is_listed_in_order(app: Flask, client: Any, history: None) -> None:
    body = client.get(URL, query_string=RANGE, headers=staff_headers(app)).get_json()
    days = [(d["day"], d["impressions"], d["clicks"], d["conversions"]) for d in body["daily"]]
    assert days == [("2026-11-10", 4, 1, 1), ("2026-11-11", 0, 0, 0), ("2026-11-12", 2, 1, 1)]


def test_a_range_without_impressions_is_all_zeros(app: Flask, client: Any, history: None) -> None:
    body = client.get(
        URL, query_string={"from": "2026-10-01", "to": "2026-10-01"}, headers=staff_headers(app)
    ).get_json()
    assert body["groups"] == []
    assert body["total"]["impressions"] == 0 and body["total"]["click_through_rate"] == 0.0
    assert [d["day"] for d in body["daily"]] == ["2026-10-01"]


def test_the_default_range_is_the_last_30_days(app: Flask, client: Any) -> None:
    body = client.get(URL, headers=staff_headers(app)).get_json()
    today = datetime.now(UTC).date()
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - timedelta(days=29)).isoformat()
    assert len(body["daily"]) == 30


def test_members_are_refused_with_403(app: Flask, client: Any) -> None:
    response = client.get(URL, headers=auth_headers(app, make_user(app)))
    assert_problem(response, 403, "staff_only")


def test_anonymous_callers_are_refused_with_401(client: Any) -> None:
    assert_problem(client.get(URL), 401)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-11-12", "to": "2026-11-10"}, "from"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
    ],
)
def test_a_bad_range_is_400_naming_the_field(
    app: Flask, client: Any, query: dict[str, str], field: str
) -> None:
    body = assert_problem(client.get(URL, query_string=query, headers=staff_headers(app)), 400)
    assert field in body["errors"]
