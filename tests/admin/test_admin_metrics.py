"""The recommendation metrics page of the admin: staff only, charts drawn as SVG on the
server from the figures of the chosen days, and the figures in a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from app.admin.charts import Series, bar_chart, line_chart, nice_ceiling
from app.extensions import db
from app.models import RecommendationImpression, RecommendationOutcome
from tests.factories import make_movie, make_user

URL = "/admin/recommendation-metrics/"


def record_history(app: Flask) -> None:
    """Yesterday: two impressions of v7/hybrid (one clicked), one of v8/trending."""
    user = make_user(app)
    movies = [make_movie(app) for _ in range(3)]
    when = datetime.now(UTC) - timedelta(days=1)
    with app.app_context():
        rows = [
            RecommendationImpression(
                user_id=user.id,
                movie_id=movie.id,
                rank=rank,
                recommendation_type=kind,
                model_version=version,
                cold_start=False,
                shown_at=when,
            )
            for rank, (movie, kind, version) in enumerate(
                zip(movies, ["hybrid", "hybrid", "trending"], ["v7", "v7", "v8"], strict=True),
                start=1,
            )
        ]
        db.session.add_all(rows)
        db.session.add(RecommendationOutcome(impression=rows[0], kind="click", occurred_at=when))
        db.session.commit()


def test_staff_see_line_and_bar_charts_and_the_table(app: Flask, staff_client: FlaskClient) -> None:
    record_history(app)
    page = staff_client.get(URL)
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") == 5
    assert html.count('class="series"') == 4  # impressions, then the three rates
    assert 'aria-label="Impressions by type and model version"' in html
    assert "hybrid / v7" in html and "trending / v8" in html
    rows = re.findall(r"<tr[^>]*>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>", html)
    assert rows == [("v7", "hybrid"), ("v8", "trending"), ("All", "")]
    assert "50.0%" in html  # v7/hybrid click-through: one of two
    assert "<script" not in html.split('id="metrics-charts"')[1].split("</table>")[0]


def test_the_range_form_chooses_the_days(app: Flask, staff_client: FlaskClient) -> None:
    record_history(app)
    html = staff_client.get(URL, query_string={"from": "2020-01-01", "to": "2020-01-03"}).text
    assert 'value="2020-01-01"' in html and 'value="2020-01-03"' in html
    assert "0 impressions" in html
    assert ">01-02<" in html  # each day labels the line charts' axis


def test_a_bad_range_falls_back_to_the_last_30_days_with_a_message(
    staff_client: FlaskClient,
) -> None:
    page = staff_client.get(URL, query_string={"from": "2026-02-30"})
    assert page.status_code == 200
    assert "Give dates as YYYY-MM-DD" in page.text
    assert page.text.count("<circle") == 4 * 30  # 30 days, 4 series: impressions and 3 rates


def test_without_a_staff_session_it_redirects_to_the_login(client: FlaskClient) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login/")


# --- the charts ----------------------------------------------------------------------------


def test_nice_ceiling_rounds_up_to_a_readable_axis() -> None:
    assert [nice_ceiling(v) for v in (0, 0.07, 0.25, 3, 11, 480)] == [1, 0.1, 0.25, 5, 20, 500]


def test_a_line_chart_places_each_value_on_the_scale() -> None:
    svg = str(line_chart("Clicks", ["a", "b", "c"], [Series("clicks", [0, 5, 10])]))
    points = re.search(r'points="([^"]+)"', svg)
    assert points is not None
    # Plot area: x from 56 to 624, y from 48 (top, 10) to 220 (bottom, 0).
    assert points.group(1) == "56.0,220.0 340.0,134.0 624.0,48.0"
    assert "<title>clicks, b: 5</title>" in svg


def test_a_bar_chart_draws_one_bar_per_series_and_label_with_escaped_names() -> None:
    svg = str(
        bar_chart(
            "Rates",
            ["<b>v1</b>", "v2"],
            [Series("ctr", [0.5, 0.25]), Series("x", [0, 1])],
            percent=True,
        )
    )
    assert svg.count('class="bar"') == 4
    assert "<b>" not in svg and "&lt;b&gt;v1&lt;/b&gt;" in svg
    assert "<title>ctr, v2: 25%</title>" in svg
