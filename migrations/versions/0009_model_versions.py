"""Trained item-model versions and the log of which one is current.

Revision ID: 0009_model_versions
Revises: 0008_recommendation_impressions
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_model_versions"
down_revision = "0008_recommendation_impressions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "item_model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=40), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.Column("interaction_watermark", sa.Integer(), nullable=False),
        sa.Column("training_seconds", sa.Float(), nullable=False),
        sa.Column("validation_users", sa.Integer(), nullable=False),
        sa.Column("ndcg_at_10", sa.Float(), nullable=True),
        sa.Column("coverage_at_10", sa.Float(), nullable=True),
        sa.Column("weights", sa.LargeBinary(), nullable=False),
        sa.Column("weights_bytes", sa.Integer(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_model_versions")),
    )
    op.create_table(
        "item_model_activations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("activated_by_id", sa.Integer(), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('trained', 'rollback')", name=op.f("ck_item_model_activations_reason")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["item_model_versions.id"],
            name=op.f("fk_item_model_activations_version_id_item_model_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["activated_by_id"],
            ["users.id"],
            name=op.f("fk_item_model_activations_activated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_model_activations")),
    )
    op.create_index(
        "ix_item_model_activations_version_id", "item_model_activations", ["version_id"]
    )


def downgrade():
    op.drop_index("ix_item_model_activations_version_id", table_name="item_model_activations")
    op.drop_table("item_model_activations")
    op.drop_table("item_model_versions")
