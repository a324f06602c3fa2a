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
