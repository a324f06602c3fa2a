"""What the admin's actions do, as plain functions over ids (the views only flash the outcome).

TMDb and the recommender are reached through the same services the CLI and the API use;
their failures are collected per row, never raised to the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from app.errors import DomainError, UpstreamError, UpstreamUnavailable
from app.extensions import db
from app.models import (
    Genre,
    Movie,
    Rating,
    Recommendation,
    RecommendationFeedback,
    User,
    WatchHistory,
    utcnow,
)
from app.services.catalogue import refresh_movie_from_tmdb, sync_genres
from app.services.recommendation.batches import generate_recommendations
from app.services.recommendation.model_versions import activate_version
from app.tasks.recommender import retrain
from app.tasks.runner import enqueue


@dataclass
class ActionOutcome:
    """How many rows an action changed, and one message per row it could not change."""

    done: int = 0
    failures: list[str] = field(default_factory=list)


def _ids(values: Iterable[str | int]) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue  # not an id: nothing to act on
    return ids


def dashboard_counts() -> dict[str, int]:
    """Row counts for the admin's home page (one small query each)."""
    counted = {
        "Users": User,
        "Movies": Movie,
        "Genres": Genre,
        "Ratings": Rating,
        "Viewings": WatchHistory,
        "Recommendations": Recommendation,
        "Feedback": RecommendationFeedback,
    }
    return {
        label: int(db.session.scalar(select(func.count()).select_from(model)) or 0)
        for label, model in counted.items()
    }


def set_users_active(ids: Iterable[str | int], active: bool, *, actor: User) -> ActionOutcome:
    """Activate or deactivate users; staff never deactivate themselves. Commits."""
    wanted = [user_id for user_id in _ids(ids) if active or user_id != actor.id]
    outcome = ActionOutcome()
    if not active and actor.id in _ids(ids):
        outcome.failures.append("You cannot deactivate your own account.")
    if wanted:
        result = db.session.execute(
            update(User)
            .where(User.id.in_(wanted), User.is_active.is_not(active))
            .values(is_active=active)
        )
        outcome.done = int(result.rowcount or 0)  # type: ignore[attr-defined]
    db.session.commit()
    return outcome


def set_movies_hidden(ids: Iterable[str | int], hidden: bool) -> ActionOutcome:
    """Hide movies from the catalogue (soft delete) or bring them back. Commits."""
    movie_ids = _ids(ids)
    outcome = ActionOutcome()
    if movie_ids:
        condition = Movie.deleted_at.is_(None) if hidden else Movie.deleted_at.is_not(None)
        result = db.session.execute(
            update(Movie)
            .where(Movie.id.in_(movie_ids), condition)
            .values(deleted_at=utcnow() if hidden else None)
        )
        outcome.done = int(result.rowcount or 0)  # type: ignore[attr-defined]
    db.session.commit()
    return outcome


def refresh_movie_details(ids: Iterable[str | int]) -> ActionOutcome:
    """Fetch TMDb's full details for each movie; stops at the first sign TMDb is down."""
    outcome = ActionOutcome()
    movies = db.session.execute(
        select(Movie.id, Movie.tmdb_id, Movie.title).where(Movie.id.in_(_ids(ids)))
    ).all()
    for _movie_id, tmdb_id, title in movies:
        try:
            refresh_movie_from_tmdb(tmdb_id)  # one unit of work: a failure saved nothing
        except UpstreamUnavailable as error:
            outcome.failures.append(f"{title}: {error.detail} The other movies were not tried.")
            break
        except DomainError as error:
            outcome.failures.append(f"{title}: {error.detail}")
        else:
            outcome.done += 1
    return outcome


def sync_genres_from_tmdb() -> int:
    """Refresh the genre list from TMDb; returns how many genres TMDb names.

    Raises a DomainError (UpstreamUnavailable, UpstreamError) when TMDb fails.
    """
    try:
        return sync_genres()
    except ValueError:  # a malformed genre list: nothing was saved
        raise UpstreamError(
            "TMDb sent a genre list in an unexpected shape; nothing was saved.",
            code="tmdb_bad_response",
        ) from None


def regenerate_recommendations(ids: Iterable[str | int]) -> ActionOutcome:
    """Compute and store a fresh recommendation batch for each user. Commits per user."""
    outcome = ActionOutcome()
    for user_id in _ids(ids):
        try:
            generate_recommendations(user_id)
        except DomainError as error:
            db.session.rollback()
            outcome.failures.append(f"User {user_id}: {error.detail}")
        else:
            outcome.done += 1
    return outcome


def start_retraining() -> str:
    """Retrain the recommender now: on a worker, or in this process after the response.
    Returns the job's id."""
    return enqueue(retrain, "admin", summary="reason=admin")


def make_model_version_current(ids: Iterable[str | int], *, actor: User) -> ActionOutcome:
    """Roll back (or forward) to one stored model version; web workers switch to it within
    RECOMMENDER_MODEL_CHECK_SECONDS. Commits."""
    wanted = _ids(ids)
    outcome = ActionOutcome()
    if len(wanted) != 1:
        outcome.failures.append("Select exactly one model version to make current.")
        return outcome
    try:
        activate_version(wanted[0], activated_by_id=actor.id)
    except DomainError as error:
        outcome.failures.append(error.detail)
    else:
        outcome.done = 1
    return outcome
