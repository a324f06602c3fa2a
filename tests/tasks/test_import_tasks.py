"""Long imports as jobs: a history upload answered 202 where workers run, and a MovieLens
folder queued from the CLI, each with its progress recorded."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import Rating, User
from tests.factories import auth_headers, make_movie, make_user
from tests.helpers import count_rows, write_movielens

JobRuns = Callable[..., list[dict[str, Any]]]
IMPORTS = "/api/v1/favorites/imports/"
RATINGS_CSV = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2024-01-05,Amélie,2001,https://boxd.it/2b4Q,4.5\n"
    "2024-01-06,Stalker,1979,https://boxd.it/st,3\n"
)


@pytest.fixture
def with_broker(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker is configured (the test's Celery still runs every job eagerly)."""
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "redis://127.0.0.1:1/0")


def upload(client: FlaskClient, headers: dict[str, str]) -> Any:
    return client.post(
        IMPORTS,
        headers=headers,
        data={"file": (io.BytesIO(RATINGS_CSV.encode()), "ratings.csv"), "source": "letterboxd"},
        content_type="multipart/form-data",
    )


@pytest.fixture
def user(app: Flask) -> User:
    make_movie(app, title="Amélie", release_date=date(2001, 4, 25))
    make_movie(app, title="Stalker", release_date=date(1979, 5, 25))
    return make_user(app)


def test_with_workers_a_history_import_is_accepted_and_run_as_a_job(
    app: Flask, client: FlaskClient, user: User, with_broker: None, job_runs: JobRuns
) -> None:
    headers = auth_headers(app, user)

    response = upload(client, headers)

    assert response.status_code == 202
    body = response.get_json()
    assert body["progress"]["total"] == 2
    assert response.headers["Location"] == f"{IMPORTS}{body['id']}/"
    report = client.get(response.headers["Location"], headers=headers).get_json()
    assert report["status"] == "completed"
    assert report["progress"] == {"done": 2, "total": 2}
    assert count_rows(app, Rating, user_id=user.id) == 2
    [recorded] = job_runs("imports.history")
    assert (recorded["state"], recorded["progress"]) == ("succeeded", (2, 2))


def test_without_workers_a_history_import_still_runs_at_once(
    app: Flask, client: FlaskClient, user: User, job_runs: JobRuns
) -> None:
    response = upload(client, auth_headers(app, user))
    assert response.status_code == 201
    assert response.get_json()["status"] == "completed"
    assert job_runs() == []


def test_movielens_import_queued_from_the_cli_reports_its_progress(
    app: Flask, runner: Any, tmp_path: Path, with_broker: None, job_runs: JobRuns
) -> None:
    folder = write_movielens(
        tmp_path / "ml",
        [(1, "Heat (1995)", "Action|Crime"), (2, "Up (2009)", "Animation")],
        [(1, "949"), (2, "14160")],
        [(1, 1, 4.0, 1_000_000_000), (1, 2, 3.5, 1_000_000_001), (2, 1, 5.0, 1_000_000_002)],
    )

    result = runner.invoke(args=["import-movielens", str(folder), "--queue"])

    assert result.exit_code == 0, result.output
    assert "Queued the import of" in result.output
    [recorded] = job_runs("imports.movielens")
    assert recorded["state"] == "succeeded"
    assert recorded["progress"] == (3, 3)
    assert recorded["result"] == "2 users, 2 movies and 3 ratings created."


def test_queueing_without_a_broker_is_refused(runner: Any, tmp_path: Path) -> None:
    folder = write_movielens(tmp_path / "ml", [(1, "Heat (1995)", "Action")], [(1, "949")], [])
    result = runner.invoke(args=["import-movielens", str(folder), "--queue"])
    assert result.exit_code == 2
    assert "--queue needs CELERY_BROKER_URL" in result.output
