"""GET recommendations/metrics/: the online metrics, for staff."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api import current_user_id
from app.blueprints.recommendations.metrics_schemas import MetricsArgs, OnlineMetricsSchema
from app.blueprints.recommendations.routes import blp
from app.services import recommendation_metrics


@blp.route("/metrics/")
class OnlineMetrics(MethodView):
    @blp.operation(
        "getRecommendationMetrics",
        200,
        OnlineMetricsSchema,
        token="required",
        query=MetricsArgs,
        errors={403: "Staff only (code: staff_only)"},
    )
    def get(self, args: dict[str, Any]) -> recommendation_metrics.OnlineMetrics:
        """Online metrics of the recommendations (staff only).

        For the days `from` to `to` (UTC, both included; the last 30 days by default):
        impressions, click-through, conversion and dismissal rates, catalogue coverage
        and the share of cold-start users, in total, per model version and recommendation
        type, and per day. Outcomes count within the attribution window after an impression.
        """
        return recommendation_metrics.online_metrics_for(
            current_user_id(), args.get("start"), args.get("end")
        )
