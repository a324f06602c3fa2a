"""Recommender jobs: retrain (on demand, on a schedule, after enough new interactions),
tune the engine's configuration, and precompute users' recommendation batches."""

from __future__ import annotations

from celery import Task, shared_task
from flask import current_app

from app.services import tuning
from app.services.jobs.precompute import chunks, regenerate_batches, stale_active_user_ids
from app.services.jobs.training import retrain_due, train_model
from app.services.recommendation.model_versions import interactions_since_current_version
from app.services.recommendation.tuning import NothingToValidate
from app.tasks.job import job_run, nothing_to_do

# Users regenerated between two progress reports of the precompute job.
PROGRESS_EVERY = 20


@shared_task(bind=True, name="recommender.retrain")
def retrain(self: Task, reason: str = "schedule") -> None:
    """Learn the item model from every interaction now."""
    with job_run(self, f"reason={reason}") as job:
        job.result = "Trained: " + train_model().describe()


@shared_task(bind=True, name="recommender.retrain_if_due")
def retrain_if_due(self: Task) -> None:
    """Retrain when JOBS_RETRAIN_AFTER_INTERACTIONS interactions arrived since the last
    training; a check that finds nothing to do leaves no job run behind."""
    if not retrain_due(current_app.config["JOBS_RETRAIN_AFTER_INTERACTIONS"]):
        nothing_to_do(self, "Not due: too few new interactions.")
        return
    since = interactions_since_current_version()
    reason = "never trained" if since is None else f"{since} new interactions"
    with job_run(self, f"reason={reason}") as job:
        job.result = "Trained: " + train_model().describe()


@shared_task(bind=True, name="recommender.tune")
def tune(self: Task, reason: str = "schedule") -> None:
    """Choose the engine's configuration again on this deployment's interactions, within
    RECOMMENDER_TUNE_BUDGET_SECONDS; the next training learns with it. Too few
    interactions to validate on is an outcome, not a failure: the configuration stays."""
    config = current_app.config
    with job_run(self, f"reason={reason}") as job:
        try:
            record = tuning.tune_deployment(
                float(config["RECOMMENDER_TUNE_BUDGET_SECONDS"]),
                float(config["RECOMMENDER_TUNE_MIN_COVERAGE"]),
            )
        except NothingToValidate as error:
            job.result = f"Not tuned: {error}"
            return
        job.result = (
            f"Tuned configuration #{record.id} ({record.candidates} candidates): "
            f"validation NDCG@10 {record.validation_ndcg:.4f}, coverage@10 "
            f"{record.validation_coverage:.4f} (defaults {record.default_ndcg:.4f}, "
            f"{record.default_coverage:.4f}). {record.description}"
        )


@shared_task(bind=True, name="recommender.precompute_stale")
def precompute_stale(self: Task) -> None:
    """Regenerate the stale batches of recently active users before they come back."""
    config = current_app.config
    user_ids = stale_active_user_ids(
        config["JOBS_PRECOMPUTE_ACTIVE_DAYS"], config["JOBS_PRECOMPUTE_MAX_USERS"]
    )
    if not user_ids:
        nothing_to_do(self, "No stale batch of a recently active user.")
        return
    with job_run(self, f"{len(user_ids)} stale user(s)") as job:
        stored = 0
        for done, chunk in enumerate(chunks(user_ids, PROGRESS_EVERY)):
            stored += regenerate_batches(chunk)
            job.report(min(len(user_ids), (done + 1) * PROGRESS_EVERY), len(user_ids))
        job.result = f"Regenerated {stored} batch(es)."


@shared_task(bind=True, name="recommender.recommend_users")
def recommend_users(self: Task, user_ids: list[int], limit: int | None = None) -> None:
    """Compute and store a fresh batch of `limit` (default: the batch size) for each of
    `user_ids`: one chunk of `flask recommend --all`."""
    summary = f"{len(user_ids)} user(s): {user_ids[0]}..{user_ids[-1]}" if user_ids else "none"
    with job_run(self, summary) as job:
        stored = regenerate_batches(user_ids, limit)
        job.report(len(user_ids), len(user_ids))
        job.result = f"Stored {stored} batch(es)."
