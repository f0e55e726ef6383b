"""reply_fingerprints: the same token and commands under a new Message-ID is a duplicate

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_fingerprints",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_reply_fingerprints")),
    )


def downgrade() -> None:
    op.drop_table("reply_fingerprints")
