"""Schemas of the online metrics: the date range asked for and the figures answered."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.services.recommendation_metrics import DEFAULT_DAYS, MAX_DAYS


class MetricsArgs(ma.Schema):
    start = ma.fields.Date(
        data_key="from",
        metadata={
            "description": f"First day (UTC, included); default {DEFAULT_DAYS - 1} days "
            "before `to`.",
            "example": "2026-11-01",
        },
    )
    end = ma.fields.Date(
        data_key="to",
        metadata={
            "description": "Last day (UTC, included); default today.",
            "example": "2026-11-30",
        },
    )

    @ma.validates_schema
    def range_in_order_and_bounded(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise ma.ValidationError("Must not be after 'to'.", "from")
        if start and end and (end - start).days + 1 > MAX_DAYS:
            raise ma.ValidationError(f"The range is at most {MAX_DAYS} days.", "from")


def _count(description: str, example: int) -> ma.fields.Integer:
    return ma.fields.Integer(
        dump_only=True, metadata={"description": description, "example": example}
    )


def _rate(description: str, example: float) -> ma.fields.Float:
    return ma.fields.Float(
        dump_only=True, metadata={"description": description, "example": example}
    )


class FiguresSchema(ma.Schema):
    impressions = _count("Recommendations shown", 1200)
    clicks = _count("Impressions clicked", 96)
    conversions = _count(
        "Impressions followed by a favourite, a rating of 7+, a watchlist add or a viewing", 30
    )
    dismissals = _count("Impressions followed by dislike, not interested or dismiss", 12)
    users = _count("Users shown at least one recommendation", 85)
    cold_start_users = _count("Of those, users with no positive signal yet when shown", 20)
    movies = _count("Distinct movies shown", 340)
    click_through_rate = _rate("clicks / impressions", 0.08)
    conversion_rate = _rate("conversions / impressions", 0.025)
    dismissal_rate = _rate("dismissals / impressions", 0.01)
    catalogue_coverage = _rate("movies / live catalogue size", 0.17)
    cold_start_share = _rate("cold_start_users / users", 0.2353)


class GroupFiguresSchema(FiguresSchema):
    model_version = ma.fields.String(dump_only=True, metadata={"example": "hybrid-ease@v3"})
    recommendation_type = ma.fields.String(dump_only=True, metadata={"example": "collaborative"})


class DayFiguresSchema(FiguresSchema):
    day = ma.fields.Date(dump_only=True, metadata={"example": "2026-11-30"})


class OnlineMetricsSchema(ma.Schema):
    start = ma.fields.Date(data_key="from", dump_only=True, metadata={"example": "2026-11-01"})
    end = ma.fields.Date(data_key="to", dump_only=True, metadata={"example": "2026-11-30"})
    attribution_window_days = _count("Days after an impression an outcome is credited to it", 7)
    catalogue_size = _count("Live movies in the catalogue", 2000)
    total = ma.fields.Nested(FiguresSchema, dump_only=True)
    groups = ma.fields.List(
        ma.fields.Nested(GroupFiguresSchema),
        dump_only=True,
        metadata={"description": "Per model version and recommendation type"},
    )
    daily = ma.fields.List(
        ma.fields.Nested(DayFiguresSchema),
        dump_only=True,
        metadata={"description": "Every day of the range, in order"},
    )
