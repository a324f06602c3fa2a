"""Trained item models: immutable versions, and the log of which version is current."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow

ACTIVATION_REASONS = ("trained", "rollback")


class ItemModelVersion(Base):
    """One trained item model: what it learned from, how it validated, and its weights.

    Written once, in the same transaction as the activation that makes it current, and
    never updated: a web worker that loaded version N serves exactly what training stored.
    """

    __tablename__ = "item_model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(40))
    # The algorithm's parameters, e.g. {"l2": 200.0, "neighbours": 100, "max_items": 2500}.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    items: Mapped[int] = mapped_column(Integer)
    users: Mapped[int] = mapped_column(Integer)
    interactions: Mapped[int] = mapped_column(Integer)
    # favorites.id max + ratings.id max when training read them (see interaction_watermark).
    interaction_watermark: Mapped[int] = mapped_column(Integer)
    training_seconds: Mapped[float] = mapped_column(Float)
    # Offline validation on a temporal split of this deployment's interactions (None: too
    # few users had enough interactions to hold some out).
    validation_users: Mapped[int] = mapped_column(Integer)
    ndcg_at_10: Mapped[float | None] = mapped_column(Float, default=None)
    coverage_at_10: Mapped[float | None] = mapped_column(Float, default=None)
    # The sparse top-k neighbour weights: a numpy .npz of the CSR arrays and the item keys.
    weights: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    weights_bytes: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __str__(self) -> str:
        return f"version {self.id}"


class ItemModelActivation(Base):
    """Version `version_id` became current: the newest row names the version served.

    Training appends one with its new version; a rollback appends one naming an older
    version. Reading the current version is one lookup on the primary key's index.
    """

    __tablename__ = "item_model_activations"
    __table_args__ = (
        CheckConstraint(
            f"reason IN ({', '.join(repr(r) for r in ACTIVATION_REASONS)})", name="reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("item_model_versions.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(20))
    activated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)

    version: Mapped[ItemModelVersion] = relationship()
