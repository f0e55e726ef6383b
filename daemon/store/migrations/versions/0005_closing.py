"""closing the loop: deliverables, acceptance rounds, retrospectives and late items

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acceptance_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("collaboration_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=998), nullable=False),
        sa.Column(
            "verdict",
            sa.Enum(
                "pending",
                "accepted",
                "rejected",
                name="acceptance_verdict",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_source", sa.String(length=998), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["action_items.id"],
            name=op.f("fk_acceptance_requests_item_id_action_items"),
        ),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_acceptance_requests_collaboration_id_collaborations"),
        ),
        sa.ForeignKeyConstraint(
            ["receiver_id"], ["people.id"], name=op.f("fk_acceptance_requests_receiver_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["people.id"],
            name=op.f("fk_acceptance_requests_decided_by_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptance_requests")),
        sa.UniqueConstraint("item_id", "round", name=op.f("uq_acceptance_requests_item_id_round")),
    )
    op.create_index(
        op.f("ix_acceptance_requests_collaboration_id"),
        "acceptance_requests",
        ["collaboration_id"],
    )
    op.create_index(
        "ix_acceptance_requests_pending", "acceptance_requests", ["verdict", "requested_at"]
    )

    op.create_table(
        "deliverables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("original_filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=998), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["action_items.id"], name=op.f("fk_deliverables_item_id_action_items")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["acceptance_requests.id"],
            name=op.f("fk_deliverables_request_id_acceptance_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["people.id"], name=op.f("fk_deliverables_submitted_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliverables")),
        sa.UniqueConstraint(
            "request_id", "filename", name=op.f("uq_deliverables_request_id_filename")
        ),
    )
    op.create_index(op.f("ix_deliverables_item_id"), "deliverables", ["item_id"])

    op.create_table(
        "retrospectives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collaboration_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=998), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_retrospectives_collaboration_id_collaborations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrospectives")),
        sa.UniqueConstraint("collaboration_id", name=op.f("uq_retrospectives_collaboration_id")),
    )

    op.create_table(
        "retrospective_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("retrospective_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("highlights", sa.Text(), nullable=False),
        sa.Column("shortfalls", sa.Text(), nullable=False),
        sa.Column("suggestions", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=998), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["retrospective_id"],
            ["retrospectives.id"],
            name=op.f("fk_retrospective_answers_retrospective_id_retrospectives"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_retrospective_answers_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrospective_answers")),
        sa.UniqueConstraint("source", name=op.f("uq_retrospective_answers_source")),
    )

    op.create_table(
        "late_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("retrospective_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("finished_on", sa.Date(), nullable=True),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["retrospective_id"],
            ["retrospectives.id"],
            name=op.f("fk_late_items_retrospective_id_retrospectives"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["action_items.id"], name=op.f("fk_late_items_item_id_action_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_late_items")),
        sa.UniqueConstraint(
            "retrospective_id", "item_id", name=op.f("uq_late_items_retrospective_id_item_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("late_items")
    op.drop_table("retrospective_answers")
    op.drop_table("retrospectives")
    op.drop_index(op.f("ix_deliverables_item_id"), table_name="deliverables")
    op.drop_table("deliverables")
    op.drop_index("ix_acceptance_requests_pending", table_name="acceptance_requests")
    op.drop_index(op.f("ix_acceptance_requests_collaboration_id"), table_name="acceptance_requests")
    op.drop_table("acceptance_requests")
