"""deleted: a collaboration removed before it sent anything (`collab delete`)

History is append-only and names the collaboration, so its row stays, marked deleted and
its code freed for reuse; its items, meetings and queued mail are gone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:00:00
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COLLAB = ("active", "archived", "cancelled")


def _check(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _swap(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("collaborations") as batch:
        batch.drop_constraint(op.f("ck_collaborations_collab_status"), type_="check")
        batch.create_check_constraint("collab_status", _check(values))


def upgrade() -> None:
    _swap((*COLLAB, "deleted"))


def downgrade() -> None:
    _swap(COLLAB)
