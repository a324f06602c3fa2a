"""Engine configurations chosen by `flask recommender tune`, with their validation figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class TunedConfiguration(Base):
    """One tuning run: what it chose and how it and the defaults scored on validation.

    Append-only; the latest row is the configuration training uses.
    """

    __tablename__ = "tuned_configurations"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Where the interactions came from: "database", or "movielens:<folder>" (training part).
    source: Mapped[str] = mapped_column(String(200))
    # recommendation.tuning.EngineConfiguration.to_dict()
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    validation_ndcg: Mapped[float] = mapped_column(Float)
    validation_coverage: Mapped[float] = mapped_column(Float)
    default_ndcg: Mapped[float] = mapped_column(Float)
    default_coverage: Mapped[float] = mapped_column(Float)
    validation_users: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[int] = mapped_column(Integer)
    budget_seconds: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    # Each model family's best trial: {family: {ndcg, coverage, description, configuration}}
    families: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
