"""chasing never stops silently: imported holiday notices, failed jobs, refused rules

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_published_days")),
    )
    op.create_index(op.f("ix_published_days_year"), "published_days", ["year"])
    op.create_table(
        "job_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_failures")),
    )
    op.create_index("ix_job_failures_at", "job_failures", ["at"])
    with op.batch_alter_table("service_replicas") as batch:
        batch.add_column(sa.Column("rules_problem", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("service_replicas") as batch:
        batch.drop_column("rules_problem")
    op.drop_index("ix_job_failures_at", table_name="job_failures")
    op.drop_table("job_failures")
    op.drop_index(op.f("ix_published_days_year"), table_name="published_days")
    op.drop_table("published_days")
