"""Changing an action item after the start: its owner (转交), collaborators, task, criteria,
receiver, priority, deadline (with a reason), support, dependencies, or calling it off (取消).

Records only, each field its own history row with the person and the source; the people
concerned are told by daemon.announce.changes, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..errors import DataError
from ..store.models import (
    ActionItem,
    ItemStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Priority,
)
from .dependencies import set_dependencies
from .history import Origin, record_changes_on, record_on
from .items import ItemChange, ensure_active, update_item

if TYPE_CHECKING:
    from ..app import App

# Mail that chases the owner of an item: queued for the old owner, not sent yet, it is
# withdrawn on a reassignment (the rules address the new owner from the next tick on).
CHASING_KINDS = ("reminder", "risk_check", "escalation")


@dataclass(frozen=True)
class ItemEdit:
    """What `items edit` and the coordinator's mail commands may change. None: unchanged."""

    owner: Person | None = None
    collaborators: tuple[Person, ...] | None = None
    description: str | None = None
    done_criteria: str | None = None
    receiver: Person | None = None
    priority: Priority | None = None
    deadline: date | None = None
    support_needed: str | None = None
    depends_on: tuple[int, ...] | None = None  # item numbers in the same collaboration
    reason: str = ""  # why (a deadline changed by the coordinator is recorded with one)

    def is_empty(self) -> bool:
        return all(
            getattr(self, name) is None for name in self.__dataclass_fields__ if name != "reason"
        )


Change = tuple[str, object, object]


def edit_item(
    session: Session, app: App, item: ActionItem, edit: ItemEdit, origin: Origin
) -> list[Change]:
    """Apply an edit; returns what really changed as (field, old, new)."""
    ensure_active(item.collaboration)
    changes = update_item(
        session,
        app,
        item,
        ItemChange(
            description=edit.description,
            done_criteria=edit.done_criteria,
            priority=edit.priority,
            deadline=edit.deadline,
            support_needed=edit.support_needed,
        ),
        origin,
        note=edit.reason,
    )
    now = app.clock.now()
    people: list[Change] = []
    if edit.owner is not None and edit.owner.id != item.owner_id:
        people.append(("owner", item.owner, edit.owner))
        item.owner = edit.owner
        item.owner_department = edit.owner.department
    if edit.receiver is not None and edit.receiver.id != item.receiver_id:
        people.append(("receiver", item.receiver, edit.receiver))
        item.receiver = edit.receiver
    if edit.collaborators is not None:
        old, new = list(item.collaborators), list(edit.collaborators)
        if {p.id for p in old} != {p.id for p in new}:
            people.append(("collaborators", old, new))
            item.collaborators = new
    if edit.depends_on is not None:
        before = [d.number for d in item.depends_on]
        set_dependencies(session, item, edit.depends_on)
        after = [d.number for d in item.depends_on]
        if before != after:
            people.append(("depends_on", before, after))
    if people:
        item.updated_at = now
        named = [(name, _names(old), _names(new)) for name, old, new in people]
        record_changes_on(session, origin, now, item, named, note=edit.reason)
        session.flush()
    if any(name == "owner" for name, _, _ in people):
        withdraw_chasing(session, item, people[0][1])
    return changes + people


def _names(value: object) -> object:
    """History keeps people by name (and numbers as #N): what a reader of the record wants."""
    if isinstance(value, Person):
        return f"{value.name} <{value.email}>"
    if isinstance(value, list):
        return "、".join(str(_names(v)) if isinstance(v, Person) else f"#{v}" for v in value) or "—"
    return value


def withdraw_chasing(session: Session, item: ActionItem, old_owner: Person) -> int:
    """Reminders for the item queued to its old owner and not sent yet are withdrawn."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.item_id == item.id,
            OutboxMessage.recipients == old_owner.email,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.kind.in_(CHASING_KINDS),
        )
        .values(status=OutboxStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def cancel_item(session: Session, app: App, item: ActionItem, reason: str, origin: Origin) -> bool:
    """取消: the item stays in the ledger as cancelled and nobody is chased on it again.
    False if it already was; a done item cannot be cancelled (its result was delivered)."""
    if not reason.strip():
        raise DataError(f"#{item.number}: say why it is cancelled (--reason)")
    if item.status is ItemStatus.CANCELLED:
        return False
    if item.status is ItemStatus.DONE:
        raise DataError(f"#{item.number} is already done; a done item cannot be cancelled")
    ensure_active(item.collaboration)
    update_item(
        session,
        app,
        item,
        ItemChange(status=ItemStatus.CANCELLED, note=reason.strip()),
        origin,
        note=reason.strip(),
    )
    record_on(session, origin, app.clock.now(), item, action="cancelled", note=reason.strip())
    withdraw_chasing(session, item, item.owner)
    return True
