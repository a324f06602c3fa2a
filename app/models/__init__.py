"""All models, importable from one place (Alembic and the app see the whole metadata)."""

from app.models.base import Base, SoftDeleteMixin, TimestampMixin, built_on, utcnow
from app.models.imports import Import
from app.models.library import Favorite, Rating, WatchHistory, WatchlistEntry
from app.models.movies import Genre, Movie, movie_genres
from app.models.recommendations import Recommendation, RecommendationFeedback
from app.models.tuning import TunedConfiguration
from app.models.users import TokenBlocklist, User, UserProfile

__all__ = [
    "Base",
    "Favorite",
    "Genre",
    "Import",
    "Movie",
    "Rating",
    "Recommendation",
    "RecommendationFeedback",
    "SoftDeleteMixin",
    "TimestampMixin",
    "TokenBlocklist",
    "TunedConfiguration",
    "User",
    "UserProfile",
    "WatchHistory",
    "WatchlistEntry",
    "built_on",
    "movie_genres",
    "utcnow",
]
