"""The movie catalogue, TMDb browsing, genres and watch history."""

from __future__ import annotations

from app.api import Blueprint

blp = Blueprint(
    "movies",
    __name__,
    description="The movie catalogue, TMDb browsing, genres and watch history.",
)
