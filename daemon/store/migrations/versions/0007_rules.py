"""rules: the schedule (next due per rule and subject), the history cursor, delay requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("episode", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("rule_version", sa.String(length=64), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["action_items.id"],
            name=op.f("fk_rule_schedule_item_id_action_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_schedule")),
        sa.UniqueConstraint("rule_id", "subject", name=op.f("uq_rule_schedule_rule_id_subject")),
    )
    with op.batch_alter_table("rule_schedule") as batch:
        batch.create_index("ix_rule_schedule_due", ["next_due_at"], unique=False)
        batch.create_index(batch.f("ix_rule_schedule_item_id"), ["item_id"], unique=False)
    op.create_table(
        "rule_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rule_cursors")),
    )
    op.create_table(
        "delay_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("old_deadline", sa.Date(), nullable=True),
        sa.Column("new_deadline", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=998), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["action_items.id"], name=op.f("fk_delay_requests_item_id_action_items")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["people.id"],
            name=op.f("fk_delay_requests_requested_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["people.id"], name=op.f("fk_delay_requests_decided_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delay_requests")),
    )
    with op.batch_alter_table("delay_requests") as batch:
        batch.create_index(batch.f("ix_delay_requests_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    op.drop_table("delay_requests")
    op.drop_table("rule_cursors")
    op.drop_table("rule_schedule")
