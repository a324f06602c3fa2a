"""`flask seed-demo`: a catalogue, a demo user and a synthetic community to try every
endpoint without a TMDb key, with recommendations that already have something to learn from.

The community is made up: 60 accounts `demo-community-NN@example.invalid` (which cannot log
in) whose favourites and ratings follow five coherent tastes over the demo catalogue,
generated from a fixed seed, so every run builds the same rows.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, select

from app.extensions import db
from app.models import Favorite, Movie, Rating, User
from app.services.accounts import create_user
from app.services.catalogue import normalise_genre, upsert_genres, upsert_movies
from app.services.demo_data import DEMO_GENRES, DEMO_MOVIES
from app.services.recommendation.batches import store_recommendations
from app.services.recommendation.model_versions import current_version_id, train_model_version

DEMO_EMAIL = "demo@example.com"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "watch-more-films-2024"

COMMUNITY_SIZE = 60
COMMUNITY_SEED = 20240601
COMMUNITY_EMAIL_DOMAIN = "example.invalid"
COMMUNITY_USERNAME_PREFIX = "demo-community-"

# The demo user likes science fiction: (TMDb id, rating 1-10 in steps of 0.5, a favourite).
DEMO_USER_LIBRARY: list[tuple[int, float, bool]] = [
    (603, 9, True),  # The Matrix
    (27205, 9, True),  # Inception
    (157336, 8, True),  # Interstellar
    (11, 9, False),  # Star Wars
    (78, 7.5, False),  # Blade Runner: a half step, still liked (7 or more)
]

GenreTest = Callable[[set[str]], bool]

# Each community member follows one taste: films whose genres pass its test.
TASTES: list[tuple[str, GenreTest]] = [
    ("science fiction", lambda genres: "Science Fiction" in genres),
    (
        "crime and thrillers",
        lambda genres: (
            "Crime" in genres
            or ("Thriller" in genres and not genres & {"Science Fiction", "Horror"})
        ),
    ),
    ("animation and family", lambda genres: bool(genres & {"Animation", "Family"})),
    (
        "comedy and romance",
        lambda genres: bool(genres & {"Comedy", "Romance"}) and "Animation" not in genres,
    ),
    ("war, history and westerns", lambda genres: bool(genres & {"War", "History", "Western"})),
]


@dataclass(frozen=True)
class SeedSummary:
    genres: int
    movies: int
    user_created: bool
    community_users_created: int
    interactions_created: int


@dataclass(frozen=True)
class Interaction:
    tmdb_id: int
    rating: float | None  # 1-10 in steps of 0.5 (exact as a float); None: a favourite only
    favorite: bool


def community_email(number: int) -> str:
    return f"{COMMUNITY_USERNAME_PREFIX}{number:02d}@{COMMUNITY_EMAIL_DOMAIN}"


def community_tastes() -> dict[int, list[Interaction]]:
    """Each member's favourites and ratings, by member number (1-60): the same every run."""
    genres_by_film = {
        film["id"]: {genre["name"] for genre in film["genres"]} for film in DEMO_MOVIES
    }
    films = sorted(genres_by_film)
    rng = random.Random(COMMUNITY_SEED)
    members: dict[int, list[Interaction]] = {}
    for number in range(1, COMMUNITY_SIZE + 1):
        _, liked_test = TASTES[(number - 1) % len(TASTES)]
        pool = [film for film in films if liked_test(genres_by_film[film])]
        others = [film for film in films if not liked_test(genres_by_film[film])]
        liked = rng.sample(pool, min(len(pool), rng.randint(8, 14)))
        favorites = set(rng.sample(liked, rng.randint(3, 5)))
        # Integer ratings: most liked films get 7-10, the rest of the catalogue 2-6.
        interactions = [
            Interaction(film, rng.choice([7, 8, 8, 9, 9, 10]), film in favorites) for film in liked
        ]
        interactions += [
            Interaction(film, rng.randint(2, 6), False) for film in rng.sample(others, 3)
        ]
        members[number] = interactions
    return members


def seed_demo(*, reset: bool = False) -> SeedSummary:
    """Load the demo catalogue, the demo user with a small library, and the community.

    Running it again changes nothing; `reset` first deletes the demo user and the community
    (with everything they own) and builds them again. Commits.
    """
    if reset:
        _delete_demo_accounts()
    upsert_genres(normalise_genre(genre) for genre in DEMO_GENRES)
    movies = upsert_movies(DEMO_MOVIES)
    movie_ids = dict(
        db.session.execute(
            select(Movie.tmdb_id, Movie.id).where(Movie.tmdb_id.in_([m["id"] for m in DEMO_MOVIES]))
        )
        .tuples()
        .all()
    )
    demo = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    user_created = demo is None
    if demo is None:
        demo = create_user(
            email=DEMO_EMAIL,
            username=DEMO_USERNAME,
            password=DEMO_PASSWORD,
            first_name="Demo",
            last_name="User",
        )
    created = 0
    members_created = 0
    for number, interactions in community_tastes().items():
        email = community_email(number)
        member = db.session.scalar(select(User).where(User.email == email))
        if member is None:
            member = create_user(
                email=email,
                username=email.split("@")[0],
                password=None,
                first_name="Demo community",
                last_name=f"member {number:02d}",
            )
            members_created += 1
        created += _add_missing(member.id, interactions, movie_ids)
    demo_library = [Interaction(tmdb, rating, fav) for tmdb, rating, fav in DEMO_USER_LIBRARY]
    created += _add_missing(demo.id, demo_library, movie_ids)
    db.session.commit()
    if created or current_version_id() is None:
        # Web workers never train: a version that saw the community's likes, for the demo's
        # first recommendations to be explained by learned neighbours.
        train_model_version()
    if created or user_created:
        # Ready before the first request.
        store_recommendations(demo.id)
    return SeedSummary(
        genres=len(DEMO_GENRES),
        movies=len(movies),
        user_created=user_created,
        community_users_created=members_created,
        interactions_created=created,
    )


def _add_missing(
    user_id: int, interactions: Iterable[Interaction], movie_ids: dict[int, int]
) -> int:
    """Add the favourites and ratings the user does not have yet; how many were added."""
    favorites = set(
        db.session.scalars(select(Favorite.movie_id).where(Favorite.user_id == user_id))
    )
    rated = set(db.session.scalars(select(Rating.movie_id).where(Rating.user_id == user_id)))
    added = 0
    for interaction in interactions:
        movie_id = movie_ids[interaction.tmdb_id]
        if interaction.favorite and movie_id not in favorites:
            db.session.add(Favorite(user_id=user_id, movie_id=movie_id))
            added += 1
        if interaction.rating is not None and movie_id not in rated:
            rating = Decimal(interaction.rating)  # exact: half steps are binary fractions
            db.session.add(Rating(user_id=user_id, movie_id=movie_id, rating=rating))
            added += 1
    db.session.flush()
    return added


def _delete_demo_accounts() -> None:
    """The demo user and the community, with their library, tokens and recommendations."""
    db.session.execute(
        delete(User).where(
            (User.email == DEMO_EMAIL)
            | User.email.like(f"{COMMUNITY_USERNAME_PREFIX}%@{COMMUNITY_EMAIL_DOMAIN}")
        )
    )
    db.session.commit()
