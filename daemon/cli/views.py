"""Plain dicts of ledger rows: what --json prints and what the tables are made of."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # views read rows they are given: `items list` starts without the ORM
    from ..store.models import ActionItem, Collaboration, HistoryEntry, OutboxMessage, Person


def person_view(person: Person) -> dict:
    return {
        "name": person.name,
        "email": person.email,
        "department": person.department.name if person.department else None,
        "locale": person.locale.value,
        "head": person.head.email if person.head else None,
        "leader": person.leader.email if person.leader else None,
    }


def collab_view(collab: Collaboration, items: list[ActionItem] | None = None) -> dict:
    view = {
        "code": collab.code,
        "theme": collab.theme,
        "goal": collab.goal,
        "start": collab.start_date,
        "end": collab.end_date,
        "status": collab.status.value,
        "initiating_department": (
            collab.initiating_department.name if collab.initiating_department else None
        ),
        "initiator": collab.initiator.email,
        "coordinator": collab.coordinator.email,
        "participants": [
            {
                "department": p.department.name,
                "contact": p.contact.email,
                "contact_name": p.contact.name,
                "role": p.role.value,
                "duties": p.duties,
            }
            for p in collab.participants
        ],
        "item_count": collab.item_seq,
    }
    if items is not None:
        view["items"] = [item_view(item) for item in items]
    return view


# Acceptance state (验收) in the reader's words.
VERDICT_WORDS = {
    "zh-CN": {"pending": "待验收", "accepted": "已通过", "rejected": "未通过"},
    "en": {"pending": "pending", "accepted": "accepted", "rejected": "rejected"},
}


def verdict_word(verdict: str | None, locale: str) -> str:
    return VERDICT_WORDS.get(locale, VERDICT_WORDS["zh-CN"]).get(verdict or "", "—")


def item_view(item: ActionItem, acceptance: enum.Enum | None = None) -> dict:
    """An item as the command line shows it; `acceptance` is its latest round's verdict."""
    return {
        "ref": item.ref,
        "collab": item.collaboration.code,
        "number": item.number,
        "description": item.description,
        "owner": item.owner.email,
        "owner_name": item.owner.name,
        "department": item.owner_department.name if item.owner_department else None,
        "collaborators": [p.email for p in item.collaborators],
        "done_criteria": item.done_criteria,
        "deadline": item.deadline,
        "priority": item.priority.value,
        "status": item.status.value,
        "progress": item.progress,
        "support_needed": item.support_needed,
        "depends_on": [d.number for d in item.depends_on],
        "receiver": item.receiver.email if item.receiver else None,
        "note": item.note,
        "acceptance": acceptance.value if acceptance is not None else None,
        "updated_at": item.updated_at,
    }


def history_view(entry: HistoryEntry) -> dict:
    return {
        "at": entry.at,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "action": entry.action,
        "field": entry.field,
        "old": entry.old_value,
        "new": entry.new_value,
        "actor": entry.actor,
        "source_kind": entry.source_kind.value,
        "source": entry.source,
        "note": entry.note,
    }


def outbox_view(row: OutboxMessage) -> dict:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "kind": row.kind,
        "to": row.recipients,
        "subject": row.subject,
        "status": row.status.value,
        "not_before": row.not_before,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "sent_at": row.sent_at,
        "rule": f"{row.rule_id}:{row.rule_level}" if row.rule_id else None,
    }


def acceptance_views(requests: list) -> list[dict]:
    """An item's acceptance trail (daemon/closing): each round, its files and verdict."""
    return [
        {
            "round": r.round,
            "receiver": r.receiver.email,
            "requested_at": r.requested_at,
            "verdict": r.verdict.value,
            "decided_at": r.decided_at,
            "decided_by": r.decided_by.email if r.decided_by else None,
            "note": r.note,
            "deliverables": [
                {"file": d.filename, "size": d.size, "sha256": d.sha256, "path": d.path}
                for d in r.deliverables
            ],
        }
        for r in requests
    ]
