"""The admin's Jobs page: recent runs with their outcome, and the "Retrain now" button,
which without a broker retrains in the web process after the response."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import JobRun, User, utcnow
from tests.helpers import post_form


def add_run(app: Flask, **fields: object) -> None:
    with app.app_context():
        db.session.add(JobRun(**fields))
        db.session.commit()


def retrain_run(app: Flask) -> tuple[str, int, str]:
    with app.app_context():
        run = db.session.scalar(select(JobRun).where(JobRun.name == "recommender.retrain"))
        assert run is not None
        return run.state, run.attempts, run.args_summary


def test_jobs_page_lists_recent_runs_with_state_duration_and_error(
    app: Flask, staff_client: FlaskClient
) -> None:
    add_run(
        app,
        task_id="a",
        name="catalogue.sync_tmdb_changes",
        state="failed",
        attempts=6,
        duration_seconds=12.5,
        error="UpstreamUnavailable: TMDb is unavailable",
        finished_at=utcnow(),
    )
    add_run(app, task_id="b", name="recommender.retrain", state="succeeded", attempts=1)

    page = staff_client.get("/admin/jobs/")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "catalogue.sync_tmdb_changes" in html and "recommender.retrain" in html
    assert "UpstreamUnavailable: TMDb is unavailable" in html
    assert "12.5 s" in html
    assert "Retrain now" in html


def test_jobs_page_is_for_staff_only(app: Flask, client: FlaskClient) -> None:
    response = client.get("/admin/jobs/")
    assert response.status_code == 302
    assert "/admin/login/" in response.headers["Location"]


def test_retrain_now_without_a_broker_runs_after_the_response(
    app: Flask, staff_client: FlaskClient, staff: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in production without a broker: no eager Celery, the job runs in the web process.
    monkeypatch.setitem(app.extensions["celery"].conf, "task_always_eager", False)

    response = post_form(staff_client, "/admin/jobs/", "/admin/jobs/retrain/", {})

    assert response.status_code == 302
    assert retrain_run(app) == ("queued", 0, "reason=admin")  # the answer did not wait
    response.close()  # what the WSGI server does once the response is sent
    assert retrain_run(app) == ("succeeded", 1, "reason=admin")
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Retraining started" in page


def test_retrain_now_needs_the_csrf_token(app: Flask, staff_client: FlaskClient) -> None:
    response = staff_client.post("/admin/jobs/retrain/", data={})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(JobRun)) is None
