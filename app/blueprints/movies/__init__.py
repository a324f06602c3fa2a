"""The movies blueprint."""

from app.blueprints.movies.routes import blp

__all__ = ["blp"]
