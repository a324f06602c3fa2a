"""The recommendations blueprint (its routes, and the staff's online metrics)."""

from app.blueprints.recommendations import metrics  # noqa: F401  (adds its route to blp)
from app.blueprints.recommendations.routes import blp

__all__ = ["blp"]
