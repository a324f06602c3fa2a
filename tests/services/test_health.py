"""The readiness probe's migration check: the heads read from the migration files, and the
revision recorded in the database, without Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.services.health import check_migrations, migration_heads
from config import MIGRATIONS_DIR


def test_the_heads_are_the_ones_alembic_finds() -> None:
    assert migration_heads(MIGRATIONS_DIR) == frozenset(
        ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    )


def write_migration(folder: Path, revision: str, down: str | tuple[str, ...] | None) -> None:
    (folder / f"{revision}.py").write_text(
        f'"""{revision}"""\n\nrevision: str = {revision!r}\ndown_revision = {down!r}\n'
        "branch_labels = None\n\n\ndef upgrade() -> None:\n    pass\n"
    )


def test_a_merge_leaves_one_head_and_a_branch_two(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    write_migration(versions, "a", None)
    write_migration(versions, "b", "a")
    write_migration(versions, "c", "a")
    (versions / "notes.py").write_text("VALUE = 1\n")  # not a migration: ignored
    assert migration_heads(tmp_path) == {"b", "c"}
    write_migration(versions, "d", ("b", "c"))
    migration_heads.cache_clear()
    assert migration_heads(tmp_path) == {"d"}
    migration_heads.cache_clear()


def test_the_check_is_ok_only_at_the_newest_migration(tmp_path: Path) -> None:
    app: Flask = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}")
    (head,) = migration_heads(MIGRATIONS_DIR)
    with app.app_context():
        assert check_migrations().detail == "not at the latest migration"  # never migrated
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            connection.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
        assert (check_migrations().ok, check_migrations().detail) == (
            False,
            "not at the latest migration",
        )
        with db.engine.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )
        assert (check_migrations().ok, check_migrations().detail) == (True, "ok")
        db.engine.dispose()
