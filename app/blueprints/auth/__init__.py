"""The auth blueprint."""

from app.blueprints.auth.routes import blp

__all__ = ["blp"]
