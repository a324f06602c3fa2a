"""The personal library: favourites, ratings with reviews and the watchlist."""

from __future__ import annotations

from app.api import Blueprint

blp = Blueprint(
    "favorites",
    __name__,
    description="The personal library: favourites, ratings with reviews and the watchlist.",
)
