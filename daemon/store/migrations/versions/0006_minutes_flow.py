"""minutes flow: the raw minutes text, action-item rows per version, requests, confirmations

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("minutes") as batch:
        batch.add_column(sa.Column("raw_text", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("minutes") as batch:
        batch.alter_column("raw_text", server_default=None)
    with op.batch_alter_table("minutes_confirmations") as batch:
        batch.add_column(sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("settled_by", sa.String(length=20), nullable=False, server_default="")
        )
    with op.batch_alter_table("minutes_confirmations") as batch:
        batch.alter_column("settled_by", server_default=None)
    op.create_table(
        "minutes_item_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("minutes_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("collaborators", sa.Text(), nullable=False),
        sa.Column("done_criteria", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("support", sa.Text(), nullable=False),
        sa.Column(
            "priority",
            sa.Enum(
                "high",
                "normal",
                "low",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["action_items.id"], name=op.f("fk_minutes_item_rows_item_id_action_items")
        ),
        sa.ForeignKeyConstraint(
            ["minutes_id"],
            ["minutes.id"],
            name=op.f("fk_minutes_item_rows_minutes_id_minutes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["people.id"], name=op.f("fk_minutes_item_rows_owner_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes_item_rows")),
        sa.UniqueConstraint(
            "minutes_id", "position", name=op.f("uq_minutes_item_rows_minutes_id_position")
        ),
    )
    op.create_table(
        "minutes_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("recorder_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_minutes_requests_meeting_id_meetings")
        ),
        sa.ForeignKeyConstraint(
            ["recorder_id"], ["people.id"], name=op.f("fk_minutes_requests_recorder_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes_requests")),
        sa.UniqueConstraint("meeting_id", name=op.f("uq_minutes_requests_meeting_id")),
    )


def downgrade() -> None:
    op.drop_table("minutes_requests")
    op.drop_table("minutes_item_rows")
    with op.batch_alter_table("minutes_confirmations") as batch:
        batch.drop_column("settled_by")
        batch.drop_column("asked_at")
    with op.batch_alter_table("minutes") as batch:
        batch.drop_column("raw_text")
