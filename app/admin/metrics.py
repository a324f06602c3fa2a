"""/admin/recommendation-metrics/: the online metrics of the recommendations, as charts
(line charts by day, bars by recommendation type and model version) and a table."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from app.admin.auth import current_staff_user
from app.admin.charts import Series, bar_chart, line_chart
from app.services.recommendation_metrics import (
    MAX_DAYS,
    GroupFigures,
    OnlineMetrics,
    default_range,
    online_metrics,
)

BAD_RANGE = f"Give dates as YYYY-MM-DD, 'from' not after 'to', at most {MAX_DAYS} days apart."
LABEL_LENGTH = 32


def parse_range(values: Any) -> tuple[date | None, date | None] | None:
    """(from, to) out of the query string (None where absent); None when they are wrong."""
    try:
        start = date.fromisoformat(values["from"]) if values.get("from") else None
        end = date.fromisoformat(values["to"]) if values.get("to") else None
    except ValueError:
        return None
    first, last = default_range(start, end)
    if first > last or (last - first).days + 1 > MAX_DAYS:
        return None
    return start, end


def group_label(group: GroupFigures) -> str:
    label = f"{group.recommendation_type} / {group.model_version}"
    return label if len(label) <= LABEL_LENGTH else label[: LABEL_LENGTH - 1] + "…"


def build_charts(metrics: OnlineMetrics) -> list[Markup]:
    days = [day.day.strftime("%m-%d") for day in metrics.daily]
    groups = [group_label(group) for group in metrics.groups]
    return [
        line_chart(
            "Impressions per day",
            days,
            [Series("impressions", [day.impressions for day in metrics.daily])],
        ),
        line_chart(
            "Rates per day",
            days,
            [
                Series("click-through", [day.click_through_rate for day in metrics.daily]),
                Series("conversion", [day.conversion_rate for day in metrics.daily]),
                Series("dismissal", [day.dismissal_rate for day in metrics.daily]),
            ],
            percent=True,
        ),
        bar_chart(
            "Impressions by type and model version",
            groups,
            [Series("impressions", [group.impressions for group in metrics.groups])],
        ),
        bar_chart(
            "Rates by type and model version",
            groups,
            [
                Series("click-through", [group.click_through_rate for group in metrics.groups]),
                Series("conversion", [group.conversion_rate for group in metrics.groups]),
                Series("dismissal", [group.dismissal_rate for group in metrics.groups]),
            ],
            percent=True,
        ),
        bar_chart(
            "Coverage and cold start by type and model version",
            groups,
            [
                Series("catalogue coverage", [g.catalogue_coverage for g in metrics.groups]),
                Series("cold-start share", [g.cold_start_share for g in metrics.groups]),
            ],
            percent=True,
        ),
    ]


class RecommendationMetricsView(BaseView):
    def is_accessible(self) -> bool:
        return current_staff_user() is not None

    def inaccessible_callback(self, name: str, **kwargs: Any) -> BaseResponse:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))

    @expose("/")
    def index(self) -> str:
        chosen = parse_range(request.args)
        if chosen is None:
            flash(BAD_RANGE, "error")
            chosen = (None, None)
        metrics = online_metrics(*chosen)
        return self.render(
            "staff_admin/recommendation_metrics.html",
            metrics=metrics,
            charts=build_charts(metrics),
        )
