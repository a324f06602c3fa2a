"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.extensions import db
from app.models import Base, Rating, built_on
from tests.fake_tmdb import FakeTMDb

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


@contextmanager
def migrated_to(revision: str, url: str, fake_tmdb: FakeTMDb) -> Iterator[None]:
    """Inside the app context of an app of its own on the database at `url`, migrated from
    nothing up to `revision`; its connections are closed afterwards."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, TMDB_BASE_URL=fake_tmdb.base_url)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision=revision)
        try:
            yield
        finally:
            db.engine.dispose()


def insert_user_and_films(
    connection: Connection, username: str, email: str, movie_ids: Iterable[int]
) -> None:
    """User 1 and a bare film for each id, in raw SQL (the schema of 0005 or later)."""
    connection.execute(
        text(
            "INSERT INTO users (id, email, username, username_skeleton, date_joined) "
            "VALUES (1, :email, :username, :username, '2026-01-01 00:00:00')"
        ),
        {"email": email, "username": username},
    )
    for movie_id in movie_ids:
        connection.execute(
            text("INSERT INTO movies (id, tmdb_id, title) VALUES (:id, :id, 'Film')"),
            {"id": movie_id},
        )


def test_migrated_schema_matches_the_models(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        dialect = connection.dialect.name
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": lambda item, *_: built_on(item, dialect),
            },
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_skeleton_backfill_keeps_existing_look_alike_accounts(
    tmp_path: Path, fake_tmdb: FakeTMDb
) -> None:
    with migrated_to("0003", f"sqlite:///{tmp_path / 'backfill.db'}", fake_tmdb):
        with db.engine.begin() as connection:
            for user_id, username in [(1, "alice"), (2, "\u0430lice"), (3, "bob")]:
                connection.execute(
                    text(
                        "INSERT INTO users (id, email, username, date_joined) "
                        "VALUES (:id, :email, :username, '2026-01-01 00:00:00')"
                    ),
                    {"id": user_id, "email": f"u{user_id}@example.com", "username": username},
                )
        upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, username, username_skeleton FROM users ORDER BY id")
            ).all()
    assert rows == [(1, "alice", "alice"), (2, "\u0430lice", "alice#2"), (3, "bob", "bob")]


# --- 0006: ratings in half steps -----------------------------------------------------------

HALF_STEPS = "0006_ratings_in_half_steps"
SCRATCH_POSTGRES_DATABASE = "test_ratings_migrations"


@pytest.fixture
def scratch_database_url(app: Flask, tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind: a SQLite file, or on PostgreSQL a database of
    its own (the suite's schema stays untouched)."""
    with app.app_context():
        suite_url = db.engine.url
    if suite_url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'half_steps.db'}"
        return
    admin = create_engine(suite_url, isolation_level="AUTOCOMMIT")
    drop = text(f"DROP DATABASE IF EXISTS {SCRATCH_POSTGRES_DATABASE} WITH (FORCE)")
    with admin.connect() as connection:
        connection.execute(drop)
        connection.execute(text(f"CREATE DATABASE {SCRATCH_POSTGRES_DATABASE}"))
    try:
        scratch = suite_url.set(database=SCRATCH_POSTGRES_DATABASE)
        yield scratch.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(drop)
        admin.dispose()


def stored_ratings(connection: Connection) -> list[tuple[int, Decimal]]:
    """Every rating read through the model's column type (NUMERIC as Decimal)."""
    ratings = Rating.__table__.c
    statement = select(ratings.id, ratings.rating).order_by(ratings.id)
    return [(row.id, row.rating) for row in connection.execute(statement)]


def insert_rating(connection: Connection, rating_id: int, movie_id: int, rating: object) -> None:
    """Raw SQL: no schema or model between the value and the database's constraint."""
    connection.execute(
        text(
            "INSERT INTO ratings (id, user_id, movie_id, rating) VALUES (:id, 1, :movie, :rating)"
        ),
        {"id": rating_id, "movie": movie_id, "rating": rating},
    )


def test_half_steps_migration_keeps_integer_ratings_and_refuses_quarter_steps(
    scratch_database_url: str, fake_tmdb: FakeTMDb
) -> None:
    with migrated_to("0005", scratch_database_url, fake_tmdb):
        with db.engine.begin() as connection:
            insert_user_and_films(connection, "rater", "u1@example.com", range(1, 6))
            for rating_id, rating in [(1, 1), (2, 7), (3, 10)]:
                insert_rating(connection, rating_id, rating_id, rating)

        upgrade(directory=str(MIGRATIONS_DIR), revision=HALF_STEPS)
        with db.engine.begin() as connection:
            insert_rating(connection, 4, 4, 7.5)
        with db.engine.connect() as connection:
            migrated = stored_ratings(connection)
        refusals = []
        for value in (7.25, 0.5, 10.5):  # raw SQL, as exact binary floats
            with pytest.raises(IntegrityError) as refused, db.engine.begin() as connection:
                insert_rating(connection, 5, 5, value)
            refusals.append("ck_ratings_rating_scale" in str(refused.value))

        downgrade(directory=str(MIGRATIONS_DIR), revision="0005")
        with db.engine.connect() as connection:
            downgraded = connection.execute(
                text("SELECT id, rating FROM ratings ORDER BY id")
            ).all()

    assert migrated == [
        (1, Decimal("1.0")),
        (2, Decimal("7.0")),
        (3, Decimal("10.0")),
        (4, Decimal("7.5")),
    ]
    assert all(isinstance(rating, Decimal) for _, rating in migrated)
    assert refusals == [True, True, True]
    # Down again, half steps round down: a liked 7.5 stays a liked 7.
    assert [(rating_id, int(rating)) for rating_id, rating in downgraded] == [
        (1, 1),
        (2, 7),
        (3, 10),
        (4, 7),
    ]


# --- 0007: recommendation identity ----------------------------------------------------------


def test_recommendation_identity_keeps_clicks_and_never_reuses_ids(
    tmp_path: Path, fake_tmdb: FakeTMDb
) -> None:
    with migrated_to("0005", f"sqlite:///{tmp_path / 'identity.db'}", fake_tmdb):
        with db.engine.begin() as connection:
            insert_user_and_films(connection, "alice", "a@example.com", (1, 2, 3))
            for row_id, movie_id, clicked in [(1, 1, True), (2, 2, False)]:
                connection.execute(
                    text(
                        "INSERT INTO recommendations (id, user_id, movie_id, "
                        "recommendation_type, confidence_score, rank, is_clicked) "
                        "VALUES (:id, 1, :movie, 'hybrid', 0.5, :id, :clicked)"
                    ),
                    {"id": row_id, "movie": movie_id, "clicked": clicked},
                )
        upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.begin() as connection:
            clicked = connection.execute(
                text("SELECT id, clicked_at IS NOT NULL FROM recommendations ORDER BY id")
            ).all()
            connection.execute(text("DELETE FROM recommendations WHERE id = 2"))
            connection.execute(
                text(
                    "INSERT INTO recommendations (user_id, movie_id, recommendation_type, "
                    "confidence_score) VALUES (1, 3, 'hybrid', 0.5)"
                )
            )
            new_id = connection.execute(
                text("SELECT id FROM recommendations WHERE movie_id = 3")
            ).scalar()
    assert clicked == [(1, True), (2, False)]
    assert new_id == 3  # 2 was deleted: AUTOINCREMENT never hands it out again
