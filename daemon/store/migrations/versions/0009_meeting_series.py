"""meetings: occurrences of a recurring series scheduled in Outlook

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("series_uid", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("recurrence_id", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_meetings_series_uid"), ["series_uid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.drop_index(batch.f("ix_meetings_series_uid"))
        batch.drop_column("recurrence_id")
        batch.drop_column("series_uid")
