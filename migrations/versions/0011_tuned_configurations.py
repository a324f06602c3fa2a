"""The engine configurations chosen by `flask recommender tune` (tuned_configurations).

Revision ID: 0011_tuned_configurations
Revises: 0010_jobs
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_tuned_configurations"
down_revision = "0010_jobs"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tuned_configurations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("validation_ndcg", sa.Float(), nullable=False),
        sa.Column("validation_coverage", sa.Float(), nullable=False),
        sa.Column("default_ndcg", sa.Float(), nullable=False),
        sa.Column("default_coverage", sa.Float(), nullable=False),
        sa.Column("validation_users", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("budget_seconds", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("families", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tuned_configurations")),
    )
    op.create_index("ix_tuned_configurations_created_at", "tuned_configurations", ["created_at"])


def downgrade():
    op.drop_index("ix_tuned_configurations_created_at", table_name="tuned_configurations")
    op.drop_table("tuned_configurations")
