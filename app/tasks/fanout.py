"""`flask recommend --all` spread over the workers: chunks of users as one Celery group."""

from __future__ import annotations

from celery import group
from celery.utils import uuid
from flask import current_app

from app.services.jobs.precompute import active_user_ids, chunks
from app.services.jobs.runs import record_queued
from app.tasks.recommender import recommend_users
from app.tasks.runner import app_task


def fan_out_all_users(limit: int | None = None) -> tuple[int, int]:
    """Queue every active user's batch, JOBS_RECOMMEND_CHUNK_SIZE users a job, as one
    group; returns (jobs, users)."""
    task = app_task(recommend_users)
    user_ids = active_user_ids()
    signatures = []
    for chunk in chunks(user_ids, current_app.config["JOBS_RECOMMEND_CHUNK_SIZE"]):
        task_id = uuid()
        record_queued(task_id, task.name, f"{len(chunk)} user(s): {chunk[0]}..{chunk[-1]}")
        signatures.append(task.s(chunk, limit).set(task_id=task_id))
    if signatures:
        group(signatures).apply_async()
    return len(signatures), len(user_ids)
