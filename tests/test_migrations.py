"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.models import Base, built_on
from tests.fake_tmdb import FakeTMDb

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


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
    url = f"sqlite:///{tmp_path / 'backfill.db'}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, TMDB_BASE_URL=fake_tmdb.base_url)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision="0003")
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
        db.engine.dispose()
    assert rows == [(1, "alice", "alice"), (2, "\u0430lice", "alice#2"), (3, "bob", "bob")]


def test_recommendation_identity_keeps_clicks_and_never_reuses_ids(
    tmp_path: Path, fake_tmdb: FakeTMDb
) -> None:
    url = f"sqlite:///{tmp_path / 'identity.db'}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, TMDB_BASE_URL=fake_tmdb.base_url)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision="0005")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, username, username_skeleton, date_joined) "
                    "VALUES (1, 'a@example.com', 'alice', 'alice', '2026-01-01 00:00:00')"
                )
            )
            for movie_id in (1, 2, 3):
                connection.execute(
                    text("INSERT INTO movies (id, tmdb_id, title) VALUES (:id, :id, 'Film')"),
                    {"id": movie_id},
                )
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
        db.engine.dispose()
    assert clicked == [(1, True), (2, False)]
    assert new_id == 3  # 2 was deleted: AUTOINCREMENT never hands it out again
