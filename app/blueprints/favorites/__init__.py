"""The favorites blueprint."""

from app.blueprints.favorites import imports as _imports  # noqa: F401  (registers its routes)
from app.blueprints.favorites.routes import blp

__all__ = ["blp"]
