"""All models, importable from one place (Alembic and the app see the whole metadata)."""

from app.models.base import Base, SoftDeleteMixin, TimestampMixin, built_on, utcnow
from app.models.imports import Import
from app.models.impressions import RecommendationImpression, RecommendationOutcome
from app.models.item_models import ItemModelActivation, ItemModelVersion
from app.models.jobs import JobCursor, JobRun
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
    "ItemModelActivation",
    "ItemModelVersion",
    "JobCursor",
    "JobRun",
    "Movie",
    "Rating",
    "Recommendation",
    "RecommendationFeedback",
    "RecommendationImpression",
    "RecommendationOutcome",
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
