"""Stored recommendation batches: generation through the engine, staleness, reading them back.

The engine (app.services.recommender) only reads and scores; this module owns the writes.
A new batch is merged into the user's recommendations in one transaction, serialised per
user by a row lock on the user's profile, so two concurrent refreshes never interleave. A
recommendation is the pair (user, movie): it keeps its id while its movie stays, and is
soft-removed (never deleted) when the movie leaves, so ids are never reused and clicks,
ratings and feedback stay attached. The engine excludes disliked and dismissed movies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import Select, TextClause, and_, bindparam, func, insert, select, text, update
from sqlalchemy.orm import joinedload

from app.errors import NotFound
from app.extensions import db
from app.models import (
    Movie,
    Recommendation,
    RecommendationFeedback,
    User,
    UserProfile,
    utcnow,
)
from app.observability import RECOMMENDATION_SECONDS
from app.services import recommender
from app.services.pagination import Page, check_page_exists, paginate_items
from app.services.recommendation.filters import RecommendationFilters
from app.services.recommendation.ranking import RecommendedMovie
from app.services.recommendation.shown import ShownFeedback, ShownRecommendation, read_shown_batch
from app.services.recommendation_impressions import is_cold_start, record_impressions

# Most recommendations (or similar movies) generated and returned for one request.
MAX_LIMIT = 50


@dataclass(frozen=True)
class StoredRecommendation:
    """A stored recommendation and the user's feedback on its movie (None when none)."""

    # A stored list's GET reads plain rows (`shown`); everything else, the entities.
    recommendation: Recommendation | ShownRecommendation
    feedback: RecommendationFeedback | ShownFeedback | None
    # Its position in a filtered list; None: the stored rank in the user's batch.
    listed_rank: int | None = None

    @property
    def rank(self) -> int:
        return self.recommendation.rank if self.listed_rank is None else self.listed_rank


@dataclass(frozen=True)
class RecommendationPage:
    """A page of recommendations; `matched` counts the candidates that passed the filters
    (None for the unfiltered list); `cold_start`, whether the user had no positive signal
    when the list was read (None: not read with it)."""

    page: Page[StoredRecommendation]
    matched: int | None
    cold_start: bool | None = None


@dataclass(frozen=True)
class GeneratedBatch:
    """A freshly stored batch, with the engine's scores (which are not stored)."""

    recommendations: list[StoredRecommendation]
    scores: dict[int, float]  # movie_id -> the engine's score

    def __len__(self) -> int:
        return len(self.recommendations)


def default_batch_size() -> int:
    return int(current_app.config["RECOMMENDER_BATCH_SIZE"])


# --- generation and persistence ------------------------------------------------------------


def store_recommendations(user_id: int, limit: int | None = None) -> list[RecommendedMovie]:
    """Compute `limit` recommendations (default: the batch size) and store them, replacing
    the user's previous batch; returns them as stored, by rank. Commits. NotFound for an
    unknown user."""
    _lock_profile(user_id)
    return _store_new_batch(user_id, limit or default_batch_size())


def generate_recommendations(user_id: int, limit: int | None = None) -> GeneratedBatch:
    """`store_recommendations`, then the stored rows with their movies and feedback."""
    results = store_recommendations(user_id, limit)
    return GeneratedBatch(
        recommendations=list_batch(user_id),
        scores={result.movie_id: result.score for result in results},
    )


def ensure_fresh_recommendations(user_id: int, limit: int) -> None:
    """Regenerate the user's batch if it is stale, missing or smaller than `limit`.

    Checked once without a lock (the common, fresh case costs one query), then again
    under the lock, so concurrent requests regenerate at most once.
    """
    if not _needs_regeneration(user_id, limit):
        return
    _lock_profile(user_id)
    # A new statement, so a new snapshot on PostgreSQL: a statement that waited for the
    # lock would still read the other request's batch count from before its commit.
    if not _needs_regeneration(user_id, limit):
        db.session.commit()  # another request regenerated while we waited for the lock
        return
    _store_new_batch(user_id, max(limit, default_batch_size()))


def _needs_regeneration(user_id: int, limit: int) -> bool:
    """Whether the user's batch is stale, missing or smaller than `limit`."""
    stored = (
        select(func.count(Recommendation.id))
        .where(Recommendation.user_id == user_id, Recommendation.removed_at.is_(None))
        .scalar_subquery()
    )
    row = db.session.execute(
        select(UserProfile.recommendations_stale, stored).where(UserProfile.user_id == user_id)
    ).first()
    if row is None:  # no profile yet: nothing was ever generated
        return True
    stale, count = row
    return bool(stale) or count < limit


def _lock_profile(user_id: int) -> None:
    """Lock the user's profile row until the transaction ends (creating the profile if
    missing). NotFound for an unknown or deleted user."""
    locked = db.session.execute(
        select(UserProfile.id).where(UserProfile.user_id == user_id).with_for_update()
    ).first()
    if locked is None:
        _create_profile(user_id)


def _create_profile(user_id: int) -> None:
    """An empty profile for a user who has none (its insert holds the row's lock)."""
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    db.session.add(UserProfile(user_id=user_id))
    db.session.flush()


def _store_new_batch(user_id: int, size: int) -> list[RecommendedMovie]:
    """Ask the engine and replace the stored batch (under the lock already held). Commits."""
    with RECOMMENDATION_SECONDS.time():
        results = save_batch(user_id, recommender.recommend_for_user(user_id, limit=size)[:size])
        db.session.commit()
    return results


def save_batch(user_id: int, results: Sequence[RecommendedMovie]) -> list[RecommendedMovie]:
    """Make `results` (ranked in order) the user's current recommendations and mark them
    fresh; returns the results stored (a repeated movie is kept once). Does not commit.

    A recommendation is the pair (user, movie): a movie already recommended keeps its row
    and id, updated in place (and brought back if it had left); a new movie gets a new row;
    a movie that leaves is soft-removed (`removed_at`), so its id is never reused and its
    clicks, ratings and feedback stay attached to it.
    """
    now = utcnow()
    existing = dict(
        db.session.execute(
            select(Recommendation.movie_id, Recommendation.id).where(
                Recommendation.user_id == user_id
            )
        )
        .tuples()
        .all()
    )
    seen: set[int] = set()
    stored: list[RecommendedMovie] = []
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for result in results:
        if result.movie_id in seen:  # the unique (user, movie) row must not be repeated
            continue
        seen.add(result.movie_id)
        stored.append(result)
        values = {
            "recommendation_type": result.recommendation_type,
            # The column is checked to 0..1; float noise must not become a 500.
            "confidence_score": min(1.0, max(0.0, float(result.confidence))),
            "rank": len(stored),
            "explanation": result.explanation,
            "reasons": list(result.reasons),
            "removed_at": None,
            "updated_at": now,
        }
        row_id = existing.get(result.movie_id)
        if row_id is None:
            inserts.append({**values, "user_id": user_id, "movie_id": result.movie_id})
        else:
            updates.append({**values, "id": row_id})
    _remove_departed(user_id, seen, now)
    if updates:
        _update_kept(updates)
    if inserts:
        # executemany: compiled once and cached (a multi-VALUES INSERT is rebuilt each time).
        db.session.execute(insert(Recommendation), [{**row, "created_at": now} for row in inserts])
        _link_feedback(user_id, [row["movie_id"] for row in inserts])
    db.session.execute(
        update(UserProfile)
        .where(UserProfile.user_id == user_id)
        .values(recommendations_stale=False, recommendations_generated_at=now)
        .execution_options(synchronize_session=False)
    )
    # Rows loaded before the bulk statements (a profile, feedback) must be read again.
    db.session.expire_all()
    return stored


def _update_kept(updates: list[dict[str, Any]]) -> None:
    """Update the rows of the movies that stay in the batch (each dict: the row's id and its
    new values), in one statement.

    On PostgreSQL an `executemany` is one round trip per row (psycopg2), so the rows go as
    arrays to one `UPDATE ... FROM unnest(...)`, a statement built once; elsewhere (SQLite,
    in-process) the ORM's bulk UPDATE by primary key.
    """
    dialect = db.session.get_bind().dialect
    if dialect.name != "postgresql":
        db.session.execute(update(Recommendation), updates)
        return
    # The reasons serialised as the JSON column itself does it (sent as text, cast back).
    serialise = Recommendation.__table__.c.reasons.type.dialect_impl(dialect).bind_processor(
        dialect
    )
    assert serialise is not None
    db.session.execute(
        _update_kept_statement(),
        {
            "ids": [row["id"] for row in updates],
            "types": [row["recommendation_type"] for row in updates],
            "scores": [row["confidence_score"] for row in updates],
            "ranks": [row["rank"] for row in updates],
            "explanations": [row["explanation"] for row in updates],
            "reasons": [serialise(row["reasons"]) for row in updates],
            "updated_at": updates[0]["updated_at"],
        },
    )


@cache
def _update_kept_statement() -> TextClause:
    """PostgreSQL: `_update_kept`'s statement, the rows' values as one array per column."""
    return text(
        """
        UPDATE recommendations SET
            recommendation_type = kept.recommendation_type,
            confidence_score = kept.confidence_score,
            rank = kept.rank,
            explanation = kept.explanation,
            reasons = CAST(kept.reasons AS JSON),
            removed_at = NULL,
            updated_at = :updated_at
        FROM unnest(
            CAST(:ids AS INTEGER[]),
            CAST(:types AS TEXT[]),
            CAST(:scores AS DOUBLE PRECISION[]),
            CAST(:ranks AS INTEGER[]),
            CAST(:explanations AS TEXT[]),
            CAST(:reasons AS TEXT[])
        ) AS kept(id, recommendation_type, confidence_score, rank, explanation, reasons)
        WHERE recommendations.id = kept.id
        """
    ).bindparams(bindparam("updated_at", type_=Recommendation.__table__.c.updated_at.type))


def _remove_departed(user_id: int, kept: set[int], now: datetime) -> None:
    """Soft-remove the user's current recommendations whose movie is not in `kept`."""
    statement = update(Recommendation).where(
        Recommendation.user_id == user_id, Recommendation.removed_at.is_(None)
    )
    if kept:
        statement = statement.where(Recommendation.movie_id.not_in(kept))
    db.session.execute(
        statement.values(removed_at=now, updated_at=now).execution_options(
            synchronize_session=False
        )
    )


def _link_feedback(user_id: int, movie_ids: list[int]) -> None:
    """Attach feedback without a recommendation (given before rows were kept) to the new rows
    of its movie."""
    new_row_id = (
        select(Recommendation.id)
        .where(
            Recommendation.user_id == user_id,
            Recommendation.movie_id == RecommendationFeedback.movie_id,
        )
        .scalar_subquery()
    )
    db.session.execute(
        update(RecommendationFeedback)
        .where(
            RecommendationFeedback.user_id == user_id,
            RecommendationFeedback.movie_id.in_(movie_ids),
            RecommendationFeedback.recommendation_id.is_(None),
        )
        .values(recommendation_id=new_row_id)
        .execution_options(synchronize_session=False)
    )


# --- reading -------------------------------------------------------------------------------


def with_movie(statement: Select[Any]) -> Select[Any]:
    """Each recommendation's movie in the same query, and the movies' genres in one more."""
    return statement.options(
        joinedload(Recommendation.movie, innerjoin=True).selectinload(Movie.genres)
    )


def attach_feedback(
    user_id: int, recommendations: Sequence[Recommendation]
) -> list[StoredRecommendation]:
    """Pair each recommendation with the user's feedback on its movie (one query)."""
    movie_ids = [recommendation.movie_id for recommendation in recommendations]
    feedback: dict[int, RecommendationFeedback] = {}
    if movie_ids:
        feedback = {
            row.movie_id: row
            for row in db.session.scalars(
                select(RecommendationFeedback).where(
                    RecommendationFeedback.user_id == user_id,
                    RecommendationFeedback.movie_id.in_(movie_ids),
                )
            )
        }
    return [
        StoredRecommendation(recommendation, feedback.get(recommendation.movie_id))
        for recommendation in recommendations
    ]


@dataclass(frozen=True)
class BatchOwner:
    user_id: int
    username: str


def batch_owners(user_id: int | None = None) -> list[BatchOwner]:
    """Whose batches `flask recommend` computes: one user (NotFound when unknown or deleted),
    or every active user, by id."""
    statement = select(User.id, User.username).where(User.deleted_at.is_(None))
    if user_id is not None:
        statement = statement.where(User.id == user_id)
    else:
        statement = statement.where(User.is_active.is_(True)).order_by(User.id)
    owners = [BatchOwner(row.id, row.username) for row in db.session.execute(statement)]
    if user_id is not None and not owners:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    return owners


def list_batch(user_id: int) -> list[StoredRecommendation]:
    """The user's whole stored batch, by rank, in two queries: the rows with their movies
    and the user's feedback on those movies, then the movies' genres."""
    return _read_batch(user_id).shown


@dataclass(frozen=True)
class ReadBatch:
    """The user's stored batch as entities, and whether the user is a cold start (None:
    not asked, or the batch is empty)."""

    shown: list[StoredRecommendation]
    cold_start: bool | None


def _read_batch(user_id: int, *, with_cold_start: bool = False) -> ReadBatch:
    """`list_batch`; `with_cold_start`: and whether the user is a cold start (for the
    impressions), as a column of the same query (None when the batch is empty)."""
    columns: list[Any] = [Recommendation, RecommendationFeedback]
    if with_cold_start:
        columns.append(is_cold_start(user_id))
    rows = db.session.execute(
        select(*columns)
        .outerjoin(
            RecommendationFeedback,
            and_(
                RecommendationFeedback.user_id == Recommendation.user_id,
                RecommendationFeedback.movie_id == Recommendation.movie_id,
            ),
        )
        .where(Recommendation.user_id == user_id, Recommendation.removed_at.is_(None))
        .order_by(Recommendation.rank, Recommendation.id)
        # Genres in a second query: joined here, SQLite would scan every genre link.
        .options(joinedload(Recommendation.movie, innerjoin=True).selectinload(Movie.genres))
        .execution_options(populate_existing=True)
    ).all()
    return ReadBatch(
        shown=[StoredRecommendation(row[0], row[1]) for row in rows],
        cold_start=bool(rows[0][2]) if with_cold_start and rows else None,
    )


def list_recommendations(
    user_id: int,
    *,
    limit: int | None = None,
    filters: RecommendationFilters | None = None,
    page: int = 1,
    page_size: int = 20,
) -> RecommendationPage:
    """The user's best `limit` recommendations by rank, one page at a time: the stored batch
    (regenerated first when stale), or with `filters` the best `limit` of the candidates
    that pass them, ranked now.

    A fresh batch costs two statements (`read_shown_batch`): the batch is at most
    MAX_LIMIT rows, so it is read whole and counted in Python, never counted by a query.
    Its impressions cost one INSERT more: whether the user is a cold start comes with
    the batch.
    """
    limit = limit or default_batch_size()
    filters = filters or RecommendationFilters()
    listed = _list_page(user_id, limit, filters, page, page_size)
    served = listed.page
    record_impressions(
        user_id,
        [item.recommendation for item in served.items],
        first_rank=(served.page - 1) * served.page_size + 1,
        cold_start=listed.cold_start,
    )
    return listed


def refresh_recommendations(user_id: int, limit: int | None = None) -> GeneratedBatch:
    """`generate_recommendations` for the user who asked, who is then shown the new batch:
    its impressions are logged (one INSERT; whether the user is a cold start comes with the
    batch read back). The admin's and the CLI's regenerations show nothing to anyone and
    log none."""
    results = store_recommendations(user_id, limit)
    read = _read_batch(user_id, with_cold_start=True)
    record_impressions(
        user_id, [item.recommendation for item in read.shown], cold_start=read.cold_start
    )
    return GeneratedBatch(
        recommendations=read.shown, scores={result.movie_id: result.score for result in results}
    )


def _list_page(
    user_id: int, limit: int, filters: RecommendationFilters, page: int, page_size: int
) -> RecommendationPage:
    if filters.narrows:
        return _list_filtered(user_id, limit, filters, page, page_size)
    batch = read_shown_batch(user_id, limit)
    if batch.needs_regeneration:
        ensure_fresh_recommendations(user_id, limit)
        batch = read_shown_batch(user_id, limit)
    shown = [StoredRecommendation(row, feedback) for row, feedback in batch.shown]
    return RecommendationPage(
        paginate_items(shown, page, page_size), matched=None, cold_start=batch.cold_start
    )


def _list_filtered(
    user_id: int, limit: int, filters: RecommendationFilters, page: int, page_size: int
) -> RecommendationPage:
    """Rank the candidates that pass `filters` now; each result is the user's
    recommendation of that movie (the same id as in any other list), created if new. A
    movie outside the stored batch is kept as a removed row: it is not in the batch."""
    _lock_profile(user_id)  # the rows written here must not race a regeneration
    ranking = recommender.recommend_filtered(user_id, limit, filters)
    results = ranking.results[:limit]
    _record_filtered(user_id, results)
    db.session.commit()
    count = len(results)
    check_page_exists(count, page, page_size)
    first = (page - 1) * page_size
    chunk = results[first : first + page_size]
    rows = {
        row.movie_id: row
        for row in db.session.scalars(
            with_movie(
                select(Recommendation).where(
                    Recommendation.user_id == user_id,
                    Recommendation.movie_id.in_([result.movie_id for result in chunk]),
                )
            )
        ).unique()
    }
    stored = attach_feedback(user_id, [rows[result.movie_id] for result in chunk])
    items = [
        StoredRecommendation(view.recommendation, view.feedback, listed_rank=first + index + 1)
        for index, view in enumerate(stored)
    ]
    return RecommendationPage(
        Page(items=items, count=count, page=page, page_size=page_size), ranking.matched
    )


def _record_filtered(user_id: int, results: Sequence[RecommendedMovie]) -> None:
    """Give every result of a filtered list its (user, movie) row: an existing row gets the
    fresh type, score, sentence and reasons (its rank and batch membership stay); a new one
    is created outside the batch (rank 0, removed_at set). Does not commit."""
    if not results:
        return
    now = utcnow()
    existing = dict(
        db.session.execute(
            select(Recommendation.movie_id, Recommendation.id).where(
                Recommendation.user_id == user_id,
                Recommendation.movie_id.in_([result.movie_id for result in results]),
            )
        )
        .tuples()
        .all()
    )
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for result in results:
        values = {
            "recommendation_type": result.recommendation_type,
            "confidence_score": min(1.0, max(0.0, float(result.confidence))),
            "explanation": result.explanation,
            "reasons": list(result.reasons),
            "updated_at": now,
        }
        row_id = existing.get(result.movie_id)
        if row_id is None:
            inserts.append(
                {
                    **values,
                    "user_id": user_id,
                    "movie_id": result.movie_id,
                    "rank": 0,
                    "removed_at": now,
                    "created_at": now,
                }
            )
        else:
            updates.append({**values, "id": row_id})
    if updates:
        db.session.execute(update(Recommendation), updates)
    if inserts:
        db.session.execute(insert(Recommendation), inserts)
        _link_feedback(user_id, [row["movie_id"] for row in inserts])
    db.session.expire_all()


def get_user_recommendation(user_id: int, recommendation_id: int) -> Recommendation:
    """One of the user's recommendations, current or since removed (its id still names the
    same movie); NotFound for anyone else's (or none)."""
    recommendation = db.session.scalar(
        with_movie(
            select(Recommendation).where(
                Recommendation.id == recommendation_id, Recommendation.user_id == user_id
            )
        )
    )
    if recommendation is None:
        raise NotFound(
            f"Recommendation {recommendation_id} does not exist.",
            code="recommendation_not_found",
        )
    return recommendation
