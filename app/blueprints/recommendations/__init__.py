"""The recommendations blueprint."""

from app.blueprints.recommendations.routes import blp

__all__ = ["blp"]
