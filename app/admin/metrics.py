"""/admin/recommendation-metrics/: the online metrics of the recommendations, as charts
(line charts by day, bars by recommendation type and model version) and a table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Chart:
    """A chart of the page: its title, its series (legend name, figure attribute) and whether
    the figures are rates."""

    title: str
    series: tuple[tuple[str, str], ...]
    percent: bool = False


IMPRESSIONS = (("impressions", "impressions"),)
RATES = (
    ("click-through", "click_through_rate"),
    ("conversion", "conversion_rate"),
    ("dismissal", "dismissal_rate"),
)
REACH = (("catalogue coverage", "catalogue_coverage"), ("cold-start share", "cold_start_share"))

# Line charts over the days, then bars over the (type, model version) groups.
DAILY_CHARTS = (
    Chart("Impressions per day", IMPRESSIONS),
    Chart("Rates per day", RATES, percent=True),
)
GROUP_CHARTS = (
    Chart("Impressions by type and model version", IMPRESSIONS),
    Chart("Rates by type and model version", RATES, percent=True),
    Chart("Coverage and cold start by type and model version", REACH, percent=True),
)


def chart_series(chart: Chart, rows: Sequence[Any]) -> list[Series]:
    """One series per (name, attribute) of `chart`: that attribute of every row."""
    return [
        Series(name, [getattr(row, attribute) for row in rows]) for name, attribute in chart.series
    ]


def build_charts(metrics: OnlineMetrics) -> list[Markup]:
    days = [day.day.strftime("%m-%d") for day in metrics.daily]
    groups = [group_label(group) for group in metrics.groups]
    return [
        *(
            line_chart(chart.title, days, chart_series(chart, metrics.daily), percent=chart.percent)
            for chart in DAILY_CHARTS
        ),
        *(
            bar_chart(
                chart.title, groups, chart_series(chart, metrics.groups), percent=chart.percent
            )
            for chart in GROUP_CHARTS
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
