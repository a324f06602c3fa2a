"""The favorites blueprint."""

from app.blueprints.favorites.routes import blp

__all__ = ["blp"]
