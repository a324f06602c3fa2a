"""Registration, login, JWT tokens, the current user and profiles."""

from __future__ import annotations

from app.api import Blueprint

blp = Blueprint(
    "auth",
    __name__,
    description="Registration, login, JWT tokens, the current user and profiles.",
)
