"""Recommendation impressions (what each served list showed) and their attributed outcomes.

Revision ID: 0008_recommendation_impressions
Revises: 0007_recommendation_identity
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_recommendation_impressions"
down_revision = "0007_recommendation_identity"
branch_labels = None
depends_on = None

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY numbers rows by itself.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OUTCOME_KINDS = (
    "click",
    "favorite",
    "rating",
    "watchlist",
    "watch",
    "like",
    "dislike",
    "not_interested",
    "dismiss",
)


def upgrade():
    op.create_table(
        "recommendation_impressions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("recommendation_type", sa.String(length=20), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("cold_start", sa.Boolean(), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rank >= 1", name=op.f("ck_recommendation_impressions_rank")),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.id"],
            name=op.f("fk_recommendation_impressions_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recommendation_impressions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_impressions")),
    )
    op.create_index(
        "ix_recommendation_impressions_user_movie_shown",
        "recommendation_impressions",
        ["user_id", "movie_id", "shown_at"],
    )
    op.create_index(
        "ix_recommendation_impressions_shown_at", "recommendation_impressions", ["shown_at"]
    )
    op.create_table(
        "recommendation_outcomes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("impression_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(repr(kind) for kind in OUTCOME_KINDS) + ")",
            name=op.f("ck_recommendation_outcomes_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["impression_id"],
            ["recommendation_impressions.id"],
            name=op.f("fk_recommendation_outcomes_impression_id_recommendation_impressions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_outcomes")),
    )
    op.create_index(
        "ix_recommendation_outcomes_impression_kind",
        "recommendation_outcomes",
        ["impression_id", "kind"],
    )


def downgrade():
    op.drop_index("ix_recommendation_outcomes_impression_kind", table_name="recommendation_outcomes")
    op.drop_table("recommendation_outcomes")
    op.drop_index(
        "ix_recommendation_impressions_shown_at", table_name="recommendation_impressions"
    )
    op.drop_index(
        "ix_recommendation_impressions_user_movie_shown", table_name="recommendation_impressions"
    )
    op.drop_table("recommendation_impressions")
