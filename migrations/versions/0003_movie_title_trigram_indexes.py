"""Trigram (pg_trgm) GIN indexes for searching movie titles, on PostgreSQL only.

`GET /api/v1/movies/?search=` filters with ILIKE '%term%' over title and original_title;
a B-tree cannot serve a leading wildcard, so without these every search read the whole
table twice (count and page). SQLite keeps scanning: it has no trigram indexes.

pg_trgm is a trusted extension (PostgreSQL 13+): a role with CREATE on the database may
create it. The indexes are built without CONCURRENTLY (inside the migration's transaction):
writes to movies wait while they build, seconds for a catalogue of 100,000 films.
Downgrading drops the indexes and leaves the extension, which other objects may use.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_movies_title_trgm": "title",
    "ix_movies_original_title_trgm": "original_title",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        op.create_index(
            name,
            "movies",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
            if_not_exists=True,  # a DBA may have built them by hand already
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.drop_index(name, table_name="movies", if_exists=True)
