"""outbox refs: a queued mail may be about a meeting or a set of minutes; an index for the
answer rate limit (recent rows of a kind)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 09:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("meeting_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("minutes_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_outbox_meeting_id_meetings"), "meetings", ["meeting_id"], ["id"]
        )
        batch.create_foreign_key(
            batch.f("fk_outbox_minutes_id_minutes"), "minutes", ["minutes_id"], ["id"]
        )
    op.create_index("ix_outbox_kind_created", "outbox", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_kind_created", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(batch.f("fk_outbox_minutes_id_minutes"), type_="foreignkey")
        batch.drop_constraint(batch.f("fk_outbox_meeting_id_meetings"), type_="foreignkey")
        batch.drop_column("minutes_id")
        batch.drop_column("meeting_id")
