"""history: when the mail that made a change was written (its Date header)

A reply that arrives late must not overwrite a change to the same field made by a reply
written after it; the Date of the mail behind each change is what they are compared by.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("written_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("history") as batch:
        batch.drop_column("written_at")
