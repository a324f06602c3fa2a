"""`flask seed-demo`: a catalogue and a user to try every endpoint without a TMDb key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.accounts import create_user
from app.services.catalog import normalise_genre, upsert_genres, upsert_movies
from app.services.demo_data import DEMO_GENRES, DEMO_MOVIES

DEMO_EMAIL = "demo@example.com"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "watch-more-films-2024"


@dataclass(frozen=True)
class SeedSummary:
    genres: int
    movies: int
    user_created: bool


def seed_demo() -> SeedSummary:
    """Load the demo catalogue and the demo user; running it again changes nothing."""
    upsert_genres(normalise_genre(genre) for genre in DEMO_GENRES)
    movies = upsert_movies(DEMO_MOVIES)
    existing = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if existing is None:
        create_user(
            email=DEMO_EMAIL,
            username=DEMO_USERNAME,
            password=DEMO_PASSWORD,
            first_name="Demo",
            last_name="User",
        )
    db.session.commit()
    return SeedSummary(genres=len(DEMO_GENRES), movies=len(movies), user_created=existing is None)
