"""meetings through the calendar: COUNTER proposals, attachment bytes, Outlook meetings

A meeting scheduled in Outlook may arrive before collabd knows its collaboration, so
`meetings.collaboration_id` becomes nullable.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        batch.alter_column("collaboration_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("meeting_attendees") as batch:
        batch.add_column(sa.Column("proposed_start", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("proposed_end", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("meeting_attachments") as batch:
        batch.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meeting_attachments") as batch:
        batch.drop_column("content")
    with op.batch_alter_table("meeting_attendees") as batch:
        batch.drop_column("proposed_end")
        batch.drop_column("proposed_start")
    with op.batch_alter_table("meetings") as batch:
        batch.alter_column("collaboration_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("description")
