"""Staff see what `flask recommender tune` chose, with its validation figures."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import TunedConfiguration


def test_the_tuned_engine_page_lists_each_run_with_its_figures(
    app: Flask, staff_client: FlaskClient
) -> None:
    with app.app_context():
        db.session.add(
            TunedConfiguration(
                source="database",
                configuration={},
                description="EASE l2 400, popularity exponent 0.2",
                validation_ndcg=0.1393,
                validation_coverage=0.0457,
                default_ndcg=0.1355,
                default_coverage=0.0349,
                validation_users=593,
                candidates=28,
                budget_seconds=420,
                seconds=350,
                families={},
            )
        )
        db.session.commit()
    response = staff_client.get("/admin/tuned-engine/")
    assert response.status_code == 200
    for text in ("EASE l2 400, popularity exponent 0.2", "0.1393", "0.1355", "database"):
        assert text in response.text
    # Read-only: the CLI writes these rows.
    assert staff_client.get("/admin/tuned-engine/new/").status_code in (302, 403, 404)
