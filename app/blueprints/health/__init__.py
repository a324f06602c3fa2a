"""The health blueprint."""

from app.blueprints.health.routes import blp

__all__ = ["blp"]
