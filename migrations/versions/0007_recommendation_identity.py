"""Recommendations keep their identity: soft removal, history timestamps, structured reasons,
AUTOINCREMENT ids on SQLite, and the "dismissed" feedback type.

is_clicked / is_rated become clicked_at / rated_at (the old flags carry over, dated by the
row's last update); favorited_at, removed_at and reasons are new. SQLite rebuilds the table
with AUTOINCREMENT so a deleted row's id is never handed out again (PostgreSQL's sequence
already never reuses one).

Revision ID: 0007_recommendation_identity
Revises: 0006_ratings_in_half_steps
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_recommendation_identity"
down_revision = "0006_ratings_in_half_steps"
branch_labels = None
depends_on = None

OLD_FEEDBACK = "feedback_type IN ('like', 'dislike', 'not_interested')"
NEW_FEEDBACK = "feedback_type IN ('like', 'dislike', 'not_interested', 'dismissed')"


def _rebuild_on_sqlite() -> str:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade():
    with op.batch_alter_table("recommendations") as batch:
        batch.add_column(sa.Column("reasons", sa.JSON(), server_default="[]", nullable=False))
        for name in ("removed_at", "clicked_at", "rated_at", "favorited_at"):
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE recommendations SET clicked_at = updated_at WHERE is_clicked")
    op.execute("UPDATE recommendations SET rated_at = updated_at WHERE is_rated")
    with op.batch_alter_table(
        "recommendations",
        recreate=_rebuild_on_sqlite(),
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.drop_column("is_clicked")
        batch.drop_column("is_rated")
    with op.batch_alter_table("recommendation_feedback") as batch:
        batch.drop_constraint(op.f("ck_recommendation_feedback_type"), type_="check")
        batch.create_check_constraint(op.f("ck_recommendation_feedback_type"), NEW_FEEDBACK)


def downgrade():
    op.execute("DELETE FROM recommendation_feedback WHERE feedback_type = 'dismissed'")
    with op.batch_alter_table("recommendation_feedback") as batch:
        batch.drop_constraint(op.f("ck_recommendation_feedback_type"), type_="check")
        batch.create_check_constraint(op.f("ck_recommendation_feedback_type"), OLD_FEEDBACK)
    with op.batch_alter_table("recommendations") as batch:
        batch.add_column(
            sa.Column("is_clicked", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("is_rated", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute("UPDATE recommendations SET is_clicked = clicked_at IS NOT NULL")
    op.execute("UPDATE recommendations SET is_rated = rated_at IS NOT NULL")
    op.execute("DELETE FROM recommendations WHERE removed_at IS NOT NULL")
    with op.batch_alter_table("recommendations", recreate=_rebuild_on_sqlite()) as batch:
        for name in ("reasons", "removed_at", "clicked_at", "rated_at", "favorited_at"):
            batch.drop_column(name)
