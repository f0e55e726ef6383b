"""cancelled: an action item or a collaboration called off after the start (取消)

Both stay in the ledger and the archive; only the CHECK constraints of the two status
columns learn the new value (and collab_status its longer width).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ITEM = ("not_started", "in_progress", "done", "blocked", "needs_support", "delayed")
COLLAB = ("active", "archived")


def _check(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _swap(table: str, name: str, values: tuple[str, ...], width: int, old_width: int) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
        if width != old_width:
            batch.alter_column(
                "status",
                existing_type=sa.String(length=old_width),
                type_=sa.String(length=width),
                existing_nullable=False,
            )
        batch.create_check_constraint(name, _check(values))


def upgrade() -> None:
    _swap("action_items", "item_status", (*ITEM, "cancelled"), 17, 17)
    _swap("collaborations", "collab_status", (*COLLAB, "cancelled"), 13, 12)


def downgrade() -> None:
    _swap("action_items", "item_status", ITEM, 17, 17)
    _swap("collaborations", "collab_status", COLLAB, 12, 13)
