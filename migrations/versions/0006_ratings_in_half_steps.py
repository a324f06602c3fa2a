"""Ratings on the specification's scale: 1 to 10 in steps of 0.5, stored as NUMERIC(3,1).

Existing whole-number ratings keep their values. The CHECK constraint `ck_ratings_rating_scale`
replaces `ck_ratings_rating_range`: between 1 and 10, and twice the rating a whole number.
Downgrading rounds half steps down (7.5 becomes 7), so a liked rating (7 or more) stays liked.

Revision ID: 0006_ratings_in_half_steps
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_ratings_in_half_steps"
down_revision = "0005"
branch_labels = None
depends_on = None

SCALE_CHECK = "rating >= 1 AND rating <= 10 AND CAST(rating * 2 AS INTEGER) = rating * 2"
RANGE_CHECK = "rating >= 1 AND rating <= 10"


def upgrade():
    # SQLite: batch mode rebuilds the table, copying every row through the new column type.
    with op.batch_alter_table("ratings") as batch:
        batch.drop_constraint(batch.f("ck_ratings_rating_range"), type_="check")
        batch.alter_column(
            "rating",
            existing_type=sa.Integer(),
            type_=sa.Numeric(precision=3, scale=1),
            existing_nullable=False,
            postgresql_using="rating::numeric(3, 1)",
        )
        batch.create_check_constraint(batch.f("ck_ratings_rating_scale"), SCALE_CHECK)


def downgrade():
    with op.batch_alter_table("ratings") as batch:
        batch.drop_constraint(batch.f("ck_ratings_rating_scale"), type_="check")
        batch.alter_column(
            "rating",
            existing_type=sa.Numeric(precision=3, scale=1),
            type_=sa.Integer(),
            existing_nullable=False,
            # SQLite's CAST to INTEGER truncates too: the same 7.5 -> 7 on both backends.
            postgresql_using="floor(rating)::integer",
        )
        batch.create_check_constraint(batch.f("ck_ratings_rating_range"), RANGE_CHECK)
