"""The recommender's jobs, run eagerly: retraining (on demand and when enough interactions
arrived), tuning, precomputing stale batches, and `flask recommend --all` fanned out as a
group."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Favorite, Movie, User, UserProfile, utcnow
from app.services import tuning
from app.services.recommendation.model_versions import current_version_id, list_versions
from app.tasks.recommender import precompute_stale, retrain, retrain_if_due, tune
from app.tasks.runner import app_task, enqueue
from tests.factories import make_entry, make_movie, make_user, two_clusters_in_the_database
from tests.helpers import count_rows, recommendations_stale, update_profile

JobRuns = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def community(app: Flask) -> tuple[list[User], list[Movie]]:
    """Three users who share favorites over six movies: enough to learn from."""
    users = [make_user(app) for _ in range(3)]
    movies = [make_movie(app) for _ in range(6)]
    for index, user in enumerate(users):
        for movie in movies[index : index + 3]:
            make_entry(app, Favorite, user, movie)
    return users, movies


def run(app: Flask, task: Any, *args: Any) -> str:
    """As the app starts a job (the test's Celery runs it eagerly)."""
    with app.app_context():
        return enqueue(task, *args, summary="test")


def run_scheduled(app: Flask, task: Any) -> None:
    """As celery beat starts a job: no run recorded beforehand."""
    with app.app_context():
        app_task(task).apply()


def test_retrain_records_a_succeeded_run_and_stores_the_current_model_version(
    app: Flask, community: tuple[list[User], list[Movie]], job_runs: JobRuns
) -> None:
    run(app, retrain, "test")

    [recorded] = job_runs("recommender.retrain")
    assert recorded["state"] == "succeeded"
    assert recorded["attempts"] == 1
    assert recorded["finished"] and recorded["duration_seconds"] is not None
    assert recorded["result"].startswith("Trained: ")
    assert "3 users, 9 interactions" in recorded["result"]
    with app.app_context():
        [version] = list_versions()
        assert current_version_id() == version.id
        assert (version.users, version.interactions) == (3, 9)
    assert recorded["result"].startswith(f"Trained: version {version.id}: ")


def test_tune_records_its_choice_as_the_configuration_training_reads(
    app: Flask, job_runs: JobRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_clusters_in_the_database(app)
    monkeypatch.setitem(app.config, "RECOMMENDER_TUNE_BUDGET_SECONDS", 60.0)
    run(app, tune, "test")

    [recorded] = job_runs("recommender.tune")
    assert recorded["state"] == "succeeded", recorded
    assert recorded["args_summary"] == "reason=test"
    with app.app_context():
        chosen = tuning.current_tuned_configuration()
        assert chosen is not None and chosen.source == "database"
        assert chosen.validation_ndcg >= chosen.default_ndcg
        assert recorded["result"].startswith(f"Tuned configuration #{chosen.id} (")
        assert chosen.description in recorded["result"]


def test_tune_with_too_little_data_keeps_the_configuration_and_says_why(
    app: Flask, community: tuple[list[User], list[Movie]], job_runs: JobRuns
) -> None:
    run_scheduled(app, tune)

    [recorded] = job_runs("recommender.tune")
    assert recorded["state"] == "succeeded"
    assert recorded["result"].startswith("Not tuned: Nothing to validate on")
    with app.app_context():
        assert tuning.current_tuned_configuration() is None


def test_retrain_if_due_trains_only_after_enough_new_interactions(
    app: Flask,
    community: tuple[list[User], list[Movie]],
    job_runs: JobRuns,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "JOBS_RETRAIN_AFTER_INTERACTIONS", 2)
    users, movies = community

    run_scheduled(app, retrain_if_due)  # never trained: due
    run_scheduled(app, retrain_if_due)  # nothing new: no run at all
    assert [r["args_summary"] for r in job_runs()] == ["reason=never trained"]

    make_entry(app, Favorite, users[0], movies[4])
    run_scheduled(app, retrain_if_due)  # one new interaction: not yet
    assert len(job_runs()) == 1

    make_entry(app, Favorite, users[0], movies[5])
    run_scheduled(app, retrain_if_due)
    assert [r["args_summary"] for r in job_runs()] == [
        "reason=never trained",
        "reason=2 new interactions",
    ]
    assert all(r["state"] == "succeeded" for r in job_runs())


def test_precompute_regenerates_stale_batches_of_recently_active_users_only(
    app: Flask, community: tuple[list[User], list[Movie]], job_runs: JobRuns
) -> None:
    recent, long_gone, never_signed_in = community[0]
    with app.app_context():
        db.session.get(User, recent.id).last_login = utcnow() - timedelta(days=1)  # type: ignore[union-attr]
        db.session.get(User, long_gone.id).last_login = utcnow() - timedelta(days=60)  # type: ignore[union-attr]
        db.session.commit()
    for user in community[0]:
        update_profile(app, user, recommendations_stale=True)

    run(app, precompute_stale)

    assert not recommendations_stale(app, recent)
    assert count_rows(app, UserProfile, user_id=recent.id) == 1
    assert recommendations_stale(app, long_gone)
    assert recommendations_stale(app, never_signed_in)
    [recorded] = job_runs("recommender.precompute_stale")
    assert recorded["state"] == "succeeded"
    assert recorded["progress"] == (1, 1)
    assert recorded["result"] == "Regenerated 1 batch(es)."


def test_precompute_with_nothing_stale_leaves_no_run_or_says_so_when_asked(
    app: Flask, community: tuple[list[User], list[Movie]], job_runs: JobRuns
) -> None:
    run_scheduled(app, precompute_stale)
    assert job_runs() == []

    run(app, precompute_stale)
    [recorded] = job_runs()
    assert (recorded["state"], recorded["result"]) == (
        "succeeded",
        "No stale batch of a recently active user.",
    )


def test_recommend_all_with_a_broker_fans_out_chunks_of_users(
    app: Flask,
    runner: Any,
    community: tuple[list[User], list[Movie]],
    job_runs: JobRuns,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A broker is configured; the test's Celery runs every job eagerly where it is sent.
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.config, "JOBS_RECOMMEND_CHUNK_SIZE", 2)

    result = runner.invoke(args=["recommend", "--all"])

    assert result.exit_code == 0, result.output
    assert "Queued 3 user(s) in 2 job(s) for the workers." in result.output
    chunks = job_runs("recommender.recommend_users")
    assert [(r["state"], r["progress"]) for r in chunks] == [
        ("succeeded", (2, 2)),
        ("succeeded", (1, 1)),
    ]
    with app.app_context():
        stale = db.session.scalars(select(UserProfile.recommendations_stale)).all()
    assert stale == [False, False, False]


def test_recommend_all_without_a_broker_computes_in_this_process(
    app: Flask, runner: Any, community: tuple[list[User], list[Movie]], job_runs: JobRuns
) -> None:
    result = runner.invoke(args=["recommend", "--all"])
    assert result.exit_code == 0, result.output
    assert "for 3 user(s)" in result.output
    assert job_runs() == []
