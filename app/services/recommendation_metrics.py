"""Online metrics of the recommendations, from impressions and their attributed outcomes:
for a range of days, per model version and recommendation type, and day by day.

An impression counts once per figure however many outcomes it has: it was clicked, it
converted (a favourite, a rating of 7 or more, a watchlist add or a viewing), it was
dismissed (dislike, not interested or dismiss). Coverage is the share of the live
catalogue shown at least once; the cold-start share is that of the users shown anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, or_, select

from app.errors import PermissionDenied
from app.extensions import db
from app.models import Movie, RecommendationImpression, RecommendationOutcome, User
from app.models.impressions import CONVERSION_KINDS, CONVERTING_RATING, DISMISSAL_KINDS

# The default range, and the longest one a request may ask for.
DEFAULT_DAYS = 30
MAX_DAYS = 366

Impression = RecommendationImpression
Outcome = RecommendationOutcome


@dataclass(frozen=True)
class Figures:
    """Counts over a set of impressions and the rates derived from them."""

    impressions: int
    clicks: int
    conversions: int
    dismissals: int
    users: int
    cold_start_users: int
    movies: int
    click_through_rate: float
    conversion_rate: float
    dismissal_rate: float
    catalogue_coverage: float
    cold_start_share: float


@dataclass(frozen=True)
class GroupFigures(Figures):
    model_version: str
    recommendation_type: str


@dataclass(frozen=True)
class DayFigures(Figures):
    day: date


@dataclass(frozen=True)
class OnlineMetrics:
    start: date  # first day, UTC
    end: date  # last day, included
    attribution_window_days: int
    catalogue_size: int
    total: Figures
    groups: list[GroupFigures]
    daily: list[DayFigures]


def share(part: int, whole: int) -> float:
    """part / whole to 4 decimals; 0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0


def figures_from_counts(counts: dict[str, int], catalogue_size: int) -> dict[str, Any]:
    """The counts with their rates, as the keyword arguments of Figures."""
    impressions = counts["impressions"]
    return {
        **counts,
        "click_through_rate": share(counts["clicks"], impressions),
        "conversion_rate": share(counts["conversions"], impressions),
        "dismissal_rate": share(counts["dismissals"], impressions),
        "catalogue_coverage": share(counts["movies"], catalogue_size),
        "cold_start_share": share(counts["cold_start_users"], counts["users"]),
    }


# --- SQL -----------------------------------------------------------------------------------


def _in_range(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(Impression.shown_at >= start, Impression.shown_at < end)


def _outcome_flags(start: datetime, end: datetime) -> Any:
    """Per impression of the range that has outcomes: clicked, converted, dismissed (0/1)."""
    converted = or_(
        Outcome.kind.in_(CONVERSION_KINDS),
        and_(Outcome.kind == "rating", Outcome.rating >= CONVERTING_RATING),
    )
    return (
        select(
            Outcome.impression_id,
            func.max(case((Outcome.kind == "click", 1), else_=0)).label("clicked"),
            func.max(case((converted, 1), else_=0)).label("converted"),
            func.max(case((Outcome.kind.in_(DISMISSAL_KINDS), 1), else_=0)).label("dismissed"),
        )
        .join(Impression, Impression.id == Outcome.impression_id)
        .where(_in_range(start, end))
        .group_by(Outcome.impression_id)
        .subquery("flags")
    )


COUNT_NAMES = (
    "impressions",
    "clicks",
    "conversions",
    "dismissals",
    "users",
    "cold_start_users",
    "movies",
)


def _counts(start: datetime, end: datetime, *keys: Any) -> Select[Any]:
    """The counts of COUNT_NAMES over the range's impressions, grouped by `keys`."""
    flags = _outcome_flags(start, end)
    statement = (
        select(
            *keys,
            func.count(Impression.id),
            func.coalesce(func.sum(flags.c.clicked), 0),
            func.coalesce(func.sum(flags.c.converted), 0),
            func.coalesce(func.sum(flags.c.dismissed), 0),
            func.count(distinct(Impression.user_id)),
            func.count(distinct(case((Impression.cold_start.is_(True), Impression.user_id)))),
            func.count(distinct(Impression.movie_id)),
        )
        .outerjoin(flags, flags.c.impression_id == Impression.id)
        .where(_in_range(start, end))
    )
    if keys:
        statement = statement.group_by(*keys).order_by(*keys)
    return statement


def _day_of(column: Any) -> Any:
    """SQL: the UTC calendar day of a timestamp column."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# --- the front door ------------------------------------------------------------------------


def default_range(start: date | None, end: date | None) -> tuple[date, date]:
    """The range asked for, DEFAULT_DAYS up to today (UTC) for what is missing."""
    last = end or datetime.now(UTC).date()
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    return first, last


def online_metrics(start: date | None = None, end: date | None = None) -> OnlineMetrics:
    """The figures for the days from `start` to `end` (both included, UTC): overall, per
    (model version, recommendation type) and per day. Four queries."""
    first, last = default_range(start, end)
    since = datetime.combine(first, time(), tzinfo=UTC)
    until = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    catalogue_size = int(
        db.session.scalar(select(func.count(Movie.id)).where(Movie.deleted_at.is_(None))) or 0
    )

    def figures(row: Any, offset: int) -> dict[str, Any]:
        counts = {name: int(row[offset + i]) for i, name in enumerate(COUNT_NAMES)}
        return figures_from_counts(counts, catalogue_size)

    total = Figures(**figures(db.session.execute(_counts(since, until)).one(), 0))
    groups = [
        GroupFigures(model_version=row[0], recommendation_type=row[1], **figures(row, 2))
        for row in db.session.execute(
            _counts(since, until, Impression.model_version, Impression.recommendation_type)
        )
    ]
    day = _day_of(Impression.shown_at).label("day")
    by_day = {
        _as_date(row[0]): figures(row, 1) for row in db.session.execute(_counts(since, until, day))
    }
    empty = figures_from_counts(dict.fromkeys(COUNT_NAMES, 0), catalogue_size)
    # Every day of the range, those without impressions at zero: a chart's axis has no gaps.
    daily = [
        DayFigures(day=first + timedelta(days=n), **by_day.get(first + timedelta(days=n), empty))
        for n in range((last - first).days + 1)
    ]
    return OnlineMetrics(
        start=first,
        end=last,
        attribution_window_days=int(current_app.config["RECOMMENDATION_OUTCOME_WINDOW_DAYS"]),
        catalogue_size=catalogue_size,
        total=total,
        groups=groups,
        daily=daily,
    )


def online_metrics_for(
    actor_id: int, start: date | None = None, end: date | None = None
) -> OnlineMetrics:
    """`online_metrics` for a staff member (or superuser); PermissionDenied for anyone else."""
    actor = db.session.get(User, actor_id)
    if actor is None or not (actor.is_staff or actor.is_superuser):
        raise PermissionDenied("Only staff can read the online metrics.", code="staff_only")
    return online_metrics(start, end)
