"""Personalised recommendations, similar movies and feedback."""

from __future__ import annotations

from app.api import Blueprint

blp = Blueprint(
    "recommendations",
    __name__,
    description="Personalised recommendations, similar movies and feedback.",
)
