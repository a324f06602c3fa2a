"""What each served list of recommendations showed (impressions), what the user did next
(outcomes, attributed to the latest impression of the movie within a window), and pruning.

Impressions are written with one INSERT per served list; outcomes are written by the
services that record the user's action (click, feedback, favourite, rating, watchlist,
viewing), in their transaction, so a click (which has no history table) is never lost.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast

from flask import current_app
from prometheus_client import Counter
from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Connection,
    Table,
    bindparam,
    delete,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import (
    Favorite,
    Rating,
    RecommendationFeedback,
    RecommendationImpression,
    RecommendationOutcome,
    WatchHistory,
    utcnow,
)
from app.models.impressions import CONVERTING_RATING, OUTCOME_KINDS
from app.services.recommendation.state import model_holder

logger = logging.getLogger(__name__)

# Labels are bounded: the model *family* (the version without its build stamp), the four
# recommendation types and the outcome kinds.
IMPRESSIONS_TOTAL = Counter(
    "recommendation_impressions_total",
    "Recommendations shown in served lists",
    ["model", "recommendation_type"],
)
OUTCOMES_TOTAL = Counter(
    "recommendation_outcomes_total",
    "Outcomes attributed to an impression (click, favorite, rating_7_plus, dismiss...)",
    ["model", "recommendation_type", "outcome"],
)
IMPRESSIONS_DROPPED_TOTAL = Counter(
    "recommendation_impressions_dropped_total",
    "Served lists whose impressions could not be written (the list was served anyway)",
)

# The table, not the mapped class: nothing here needs the ORM's bulk path, which cost a
# third more CPU for the same multi-row INSERT.
IMPRESSIONS = insert(cast(Table, RecommendationImpression.__table__))
# set_config(..., true) is SET LOCAL as an expression: joined once, it rides on the INSERT.
IMPRESSIONS_FROM_ARRAYS = text(
    """
    INSERT INTO recommendation_impressions
        (user_id, movie_id, rank, recommendation_type, model_version, shown_at, cold_start)
    SELECT :user_id, shown.movie_id, shown.rank, shown.recommendation_type, :model_version,
           :shown_at, :cold_start
    FROM unnest(CAST(:movie_ids AS INTEGER[]), CAST(:ranks AS INTEGER[]),
                CAST(:types AS TEXT[])) AS shown(movie_id, rank, recommendation_type),
         (SELECT set_config('synchronous_commit', 'off', true)) AS durability
    """
).bindparams(
    bindparam("shown_at", type_=RecommendationImpression.__table__.c.shown_at.type),
    bindparam("cold_start", type_=Boolean),
)

# Rows deleted per statement when pruning: short transactions on a big table.
PRUNE_BATCH_SIZE = 10_000

# False while the user's actions are not responses to what they were shown (an import).
_attributing_outcomes: ContextVar[bool] = ContextVar("attributing_outcomes", default=True)


def current_model_version() -> str:
    """The version stamped on impressions: RECOMMENDATION_MODEL_VERSION when set, otherwise
    the engine's model family and the stored item-model version this process serves (the
    same in every worker), e.g. "hybrid-ease@v3". No lookup: the one the last ranking used."""
    configured = str(current_app.config["RECOMMENDATION_MODEL_VERSION"])
    if configured:
        return configured[:64]
    served = model_holder().served
    if served is None:
        return "hybrid-popularity"
    return f"hybrid-{served.model.settings.family}@v{served.version_id}"


def model_family(version: str) -> str:
    """The version without its build stamp: a Prometheus label that stays bounded."""
    return version.split("@", 1)[0]


# --- impressions ---------------------------------------------------------------------------


def is_cold_start(user_id: int | BindParameter[int]) -> ColumnElement[bool]:
    """SQL: the user has no positive signal yet (the engine's cold start). Uncorrelated,
    so a query that selects it (the stored list's batch read) evaluates it once."""
    positive = (
        select(Favorite.id).where(Favorite.user_id == user_id),
        select(Rating.id).where(Rating.user_id == user_id, Rating.rating >= CONVERTING_RATING),
        select(WatchHistory.id).where(WatchHistory.user_id == user_id),
        select(RecommendationFeedback.id).where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.feedback_type == "like",
        ),
    )
    return ~or_(*(statement.exists() for statement in positive))


class Shown(Protocol):
    """What an impression records of a recommendation shown: the stored entity, or the
    stored list's plain row (`recommendation.shown`)."""

    @property
    def movie_id(self) -> int: ...

    @property
    def recommendation_type(self) -> str: ...


def record_impressions(
    user_id: int,
    recommendations: Sequence[Shown],
    *,
    first_rank: int = 1,
    cold_start: bool | None = None,
) -> int:
    """Log that `recommendations` were shown to the user, in this order, the first at
    position `first_rank`; returns how many were logged. One INSERT, then a commit, plus
    one SELECT asking whether the user is a cold start unless the caller read it already
    (`cold_start`, from `is_cold_start` in the query that loaded the list).

    Telemetry never fails the list it describes: a database error is logged and counted,
    and the list is served without its impressions.
    """
    if not recommendations or not current_app.config["RECOMMENDATION_IMPRESSIONS_ENABLED"]:
        return 0
    version = current_model_version()
    shown = [
        (recommendation.movie_id, first_rank + offset, recommendation.recommendation_type)
        for offset, recommendation in enumerate(recommendations)
    ]
    session = db.session()
    keep_loaded = session.expire_on_commit
    # The caller serialises the rows it just read: expiring them on this commit would
    # read each one again (N+1). Nothing in this transaction changed them.
    session.expire_on_commit = False
    try:
        if cold_start is None:
            # Asked once, not as a subquery of every row: PostgreSQL planned 80 subqueries
            # for a page of 20, which doubled the cost of logging it.
            cold_start = bool(session.scalar(select(is_cold_start(user_id))))
        insert_impressions(session.connection(), user_id, shown, version, cold_start)
        session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        IMPRESSIONS_DROPPED_TOTAL.inc()
        logger.warning("impressions of user %s not recorded", user_id, exc_info=True)
        return 0
    finally:
        session.expire_on_commit = keep_loaded
    family = model_family(version)
    for recommendation_type, count in collections.Counter(row[2] for row in shown).items():
        IMPRESSIONS_TOTAL.labels(family, recommendation_type).inc(count)
    return len(shown)


def insert_impressions(
    connection: Connection,
    user_id: int,
    shown: list[tuple[int, int, str]],
    version: str,
    cold_start: bool,
) -> None:
    """One INSERT of the (movie id, rank, type) rows shown. On PostgreSQL the rows go as
    arrays to a statement built once, which also turns off the wait for the WAL flush
    for its transaction (telemetry: a crash may lose the last moment's impressions, but
    the GET does not wait for the disk); that saves a round trip and the per-row
    parameters. Elsewhere, the table's multi-row INSERT."""
    now = utcnow()
    if connection.dialect.name == "postgresql":
        movie_ids, ranks, types = (list(column) for column in zip(*shown, strict=True))
        connection.execute(
            IMPRESSIONS_FROM_ARRAYS,
            {
                "user_id": user_id,
                "movie_ids": movie_ids,
                "ranks": ranks,
                "types": types,
                "model_version": version,
                "shown_at": now,
                "cold_start": cold_start,
            },
        )
        return
    connection.execute(
        IMPRESSIONS,
        [
            {
                "user_id": user_id,
                "movie_id": movie_id,
                "rank": rank,
                "recommendation_type": recommendation_type,
                "model_version": version,
                "shown_at": now,
                "cold_start": cold_start,
            }
            for movie_id, rank, recommendation_type in shown
        ],
    )


# --- outcomes ------------------------------------------------------------------------------


@contextmanager
def outcomes_not_attributed() -> Iterator[None]:
    """Library changes made inside are not outcomes of any impression: an imported history
    says what the user did elsewhere, not how they answered our recommendations."""
    token = _attributing_outcomes.set(False)
    try:
        yield
    finally:
        _attributing_outcomes.reset(token)


@dataclass(frozen=True)
class AttributedImpression:
    id: int
    model_version: str
    recommendation_type: str


def latest_impression(user_id: int, movie_id: int, at: datetime) -> AttributedImpression | None:
    """The latest impression of the movie shown to the user in the attribution window
    ending at `at` (RECOMMENDATION_OUTCOME_WINDOW_DAYS), or None."""
    window = timedelta(days=int(current_app.config["RECOMMENDATION_OUTCOME_WINDOW_DAYS"]))
    try:
        since = at - window
    except OverflowError:  # a viewing dated in year 1: nothing was shown before it
        return None
    row = db.session.execute(
        select(
            RecommendationImpression.id,
            RecommendationImpression.model_version,
            RecommendationImpression.recommendation_type,
        )
        .where(
            RecommendationImpression.user_id == user_id,
            RecommendationImpression.movie_id == movie_id,
            RecommendationImpression.shown_at >= since,
            RecommendationImpression.shown_at <= at,
        )
        .order_by(RecommendationImpression.shown_at.desc(), RecommendationImpression.id.desc())
        .limit(1)
    ).first()
    return None if row is None else AttributedImpression(*row)


def record_outcome(
    user_id: int,
    movie_id: int,
    kind: str,
    *,
    rating: float | None = None,
    at: datetime | None = None,
) -> int | None:
    """Attribute what the user just did to `movie_id` (`kind`, one of OUTCOME_KINDS; the
    score for a rating) to its latest impression within the window; returns the outcome's
    id, or None when no impression qualifies. Part of the caller's transaction."""
    if kind not in OUTCOME_KINDS:
        raise ValueError(f"unknown outcome kind {kind!r}")
    if not _attributing_outcomes.get():
        return None
    when = at or utcnow()
    impression = latest_impression(user_id, movie_id, when)
    if impression is None:
        return None
    outcome_id = db.session.execute(
        insert(RecommendationOutcome)
        .values(impression_id=impression.id, kind=kind, rating=rating, occurred_at=when)
        .returning(RecommendationOutcome.id)
    ).scalar_one()
    OUTCOMES_TOTAL.labels(
        model_family(impression.model_version),
        impression.recommendation_type,
        outcome_label(kind, rating),
    ).inc()
    return int(outcome_id)


def outcome_label(kind: str, rating: float | None) -> str:
    """The Prometheus outcome label: ratings split at the conversion threshold."""
    if kind != "rating":
        return kind
    return "rating_7_plus" if rating is not None and rating >= CONVERTING_RATING else "rating"


# --- retention -----------------------------------------------------------------------------


def prune_impressions(retention_days: int | None = None, *, now: datetime | None = None) -> int:
    """Delete impressions (and, by cascade, their outcomes) older than `retention_days`
    (default RECOMMENDATION_IMPRESSION_RETENTION_DAYS); returns how many. Commits each
    batch of PRUNE_BATCH_SIZE."""
    days = (
        retention_days
        if retention_days is not None
        else int(current_app.config["RECOMMENDATION_IMPRESSION_RETENTION_DAYS"])
    )
    cutoff = (now or utcnow()) - timedelta(days=days)
    deleted = 0
    while True:
        batch = (
            select(RecommendationImpression.id)
            .where(RecommendationImpression.shown_at < cutoff)
            .limit(PRUNE_BATCH_SIZE)
        )
        ids = list(db.session.scalars(batch))
        if not ids:
            return deleted
        # Their outcomes go by ON DELETE CASCADE (SQLite too: foreign keys are on).
        db.session.execute(
            delete(RecommendationImpression).where(RecommendationImpression.id.in_(ids))
        )
        db.session.commit()
        deleted += len(ids)
