"""Usernames unique by their confusable skeleton: users.username_skeleton, backfilled.

The skeleton is Unicode TR39's (ICU's table) of the NFKC-normalised, case-folded
username, so "аlice" (Cyrillic а) and "alice" share one. Existing accounts that already
collide keep their usernames: the later ones (by id) get "<skeleton>#<id>", which no
username can produce, so the unique index can be built and no new look-alike of either
can register.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import unicodedata

import icu
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def skeleton(username: str) -> str:
    folded = unicodedata.normalize("NFKC", username).casefold()
    return str(icu.SpoofChecker().getSkeleton(0, folded))


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.Text(), nullable=True))
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("username", sa.String),
        sa.column("username_skeleton", sa.Text),
    )
    connection = op.get_bind()
    seen: set[str] = set()
    rows = connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id))
    for user_id, username in rows.all():
        value = skeleton(username)
        if value in seen:
            value = f"{value}#{user_id}"
        seen.add(value)
        connection.execute(
            users.update().where(users.c.id == user_id).values(username_skeleton=value)
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("username_skeleton", existing_type=sa.Text(), nullable=False)
        batch.create_unique_constraint("uq_users_username_skeleton", ["username_skeleton"])


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_username_skeleton", type_="unique")
        batch.drop_column("username_skeleton")
