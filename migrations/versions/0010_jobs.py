"""Background jobs: `job_runs`, `job_cursors`, and movies.tmdb_unknown_at (TMDb answered 404).

Revision ID: 0010_jobs
Revises: 0009_model_versions
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_jobs"
down_revision = "0009_model_versions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("movies") as batch:
        batch.add_column(sa.Column("tmdb_unknown_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("args_summary", sa.String(length=500), server_default="", nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("result", sa.Text(), server_default="", nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'retrying', 'succeeded', 'failed')",
            name=op.f("ck_job_runs_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("task_id", name=op.f("uq_job_runs_task_id")),
    )
    op.create_index("ix_job_runs_created", "job_runs", ["created_at"])
    op.create_index("ix_job_runs_name_created", "job_runs", ["name", "created_at"])
    op.create_table(
        "job_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_cursors")),
    )


def downgrade():
    op.drop_table("job_cursors")
    op.drop_index("ix_job_runs_name_created", table_name="job_runs")
    op.drop_index("ix_job_runs_created", table_name="job_runs")
    op.drop_table("job_runs")
    with op.batch_alter_table("movies") as batch:
        batch.drop_column("tmdb_unknown_at")
