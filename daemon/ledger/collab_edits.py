"""Changing a collaboration after the start: goal, background, dates, coordinator; adding or
removing a participating department, or changing its contact or role; deleting a mistaken
one that has sent nothing, or calling off (取消) one that has.

Records only, each change its own history row with the person and the source; the people
concerned are told by daemon.announce.collab_changes, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..errors import DataError
from ..store.models import (
    CLOSED_STATUSES,
    AcceptanceRequest,
    ActionItem,
    Collaboration,
    CollabStatus,
    ItemStatus,
    Meeting,
    Minutes,
    MinutesRequest,
    OutboxMessage,
    OutboxStatus,
    Participant,
    ParticipantRole,
    Person,
)
from ..store.models.rules import DelayRequest
from .history import Origin, record_on
from .items import ItemChange, ensure_active, update_item

if TYPE_CHECKING:
    from ..app import App
    from ..store.models import Department

Change = tuple[str, object, object]


@dataclass(frozen=True)
class CollabEdit:
    """What `collab edit` may change. None: unchanged."""

    theme: str | None = None
    goal: str | None = None
    background: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    coordinator: Person | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)


def edit_collaboration(
    session: Session, app: App, collab: Collaboration, edit: CollabEdit, origin: Origin
) -> list[Change]:
    """Apply an edit; returns what really changed as (field, old, new)."""
    ensure_active(collab)
    start = edit.start_date if edit.start_date is not None else collab.start_date
    end = edit.end_date if edit.end_date is not None else collab.end_date
    if start and end and end < start:
        raise DataError(
            f"{collab.code}: the end {end.isoformat()} would be before the start "
            f"{start.isoformat()}; nothing was changed"
        )
    changes: list[Change] = []
    for name in ("theme", "goal", "background", "start_date", "end_date"):
        new = getattr(edit, name)
        if new is not None and new != getattr(collab, name):
            changes.append((name, getattr(collab, name), new))
            setattr(collab, name, new)
    if edit.coordinator is not None and edit.coordinator.id != collab.coordinator_id:
        changes.append(("coordinator", collab.coordinator, edit.coordinator))
        collab.coordinator = edit.coordinator
    now = app.clock.now()
    for name, old, new in changes:
        record_on(session, origin, now, collab, action="changed", field=name, **_texts(old, new))
    session.flush()
    return changes


def _texts(old: object, new: object) -> dict[str, object]:
    """History keeps people as `name <mail>`, like item changes do."""
    shown = [f"{v.name} <{v.email}>" if isinstance(v, Person) else v for v in (old, new)]
    return {"old": shown[0], "new": shown[1]}


def find_participant(collab: Collaboration, department: Department) -> Participant | None:
    return next((p for p in collab.participants if p.department_id == department.id), None)


def add_participant(
    session: Session,
    app: App,
    collab: Collaboration,
    department: Department,
    contact: Person,
    role: ParticipantRole,
    duties: str,
    origin: Origin,
) -> Participant:
    ensure_active(collab)
    if find_participant(collab, department) is not None:
        raise DataError(
            f"{department.name} takes part in {collab.code} already; change its contact or "
            "role with `collab edit-department`"
        )
    participant = Participant(department=department, contact=contact, role=role, duties=duties)
    collab.participants.append(participant)
    session.flush()
    record_on(
        session,
        origin,
        app.clock.now(),
        collab,
        action="participant_added",
        new=f"{department.name} ({role.value}): {contact.email}",
    )
    return participant


def change_participant(
    session: Session,
    app: App,
    collab: Collaboration,
    department: Department,
    origin: Origin,
    *,
    contact: Person | None = None,
    role: ParticipantRole | None = None,
    duties: str | None = None,
) -> tuple[Participant, list[Change]]:
    ensure_active(collab)
    participant = _participant(collab, department)
    changes: list[Change] = []
    if contact is not None and contact.id != participant.contact_id:
        changes.append(("contact", participant.contact, contact))
        participant.contact = contact
    if role is not None and role is not participant.role:
        changes.append(("role", participant.role, role))
        participant.role = role
    if duties is not None and duties != participant.duties:
        changes.append(("duties", participant.duties, duties))
        participant.duties = duties
    now = app.clock.now()
    for name, old, new in changes:
        record_on(
            session,
            origin,
            now,
            collab,
            action="participant_changed",
            field=f"{department.name}.{name}",
            **_texts(old, new),
        )
    session.flush()
    return participant, changes


def remove_participant(
    session: Session, app: App, collab: Collaboration, department: Department, origin: Origin
) -> Participant:
    """A department leaves; refused while it owns open items (hand them over first) or when
    it is the initiating department (the collaboration is its)."""
    ensure_active(collab)
    participant = _participant(collab, department)
    if collab.initiating_department_id == department.id:
        raise DataError(
            f"{department.name} started {collab.code} and cannot leave it; "
            "to stop the whole collaboration use `collab cancel`"
        )
    open_items = list(
        session.scalars(
            select(ActionItem.number)
            .where(
                ActionItem.collaboration_id == collab.id,
                ActionItem.owner_department_id == department.id,
                ActionItem.status.not_in(CLOSED_STATUSES),
            )
            .order_by(ActionItem.number)
        )
    )
    if open_items:
        refs = ", ".join(f"{collab.code}#{n}" for n in open_items)
        raise DataError(
            f"{department.name} still owns open items ({refs}); hand them over first "
            f"(`items edit {collab.code}#N --owner …`) or cancel them; nothing was changed"
        )
    collab.participants.remove(participant)
    session.flush()
    record_on(
        session,
        origin,
        app.clock.now(),
        collab,
        action="participant_removed",
        old=f"{department.name} ({participant.role.value}): {participant.contact.email}",
    )
    return participant


def _participant(collab: Collaboration, department: Department) -> Participant:
    participant = find_participant(collab, department)
    if participant is None:
        listed = "、".join(p.department.name for p in collab.participants)
        raise DataError(
            f"{department.name} does not take part in {collab.code} (participants: {listed})"
        )
    return participant


def has_sent(session: Session, collab: Collaboration) -> int:
    """How many mails of the collaboration have left (or were tried): anything people may
    have read makes the collaboration part of the record."""
    return (
        session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.collaboration_id == collab.id,
                or_(OutboxMessage.status != OutboxStatus.PENDING, OutboxMessage.attempts > 0),
            )
        )
        or 0
    )


def delete_collaboration(session: Session, app: App, collab: Collaboration, origin: Origin) -> int:
    """Remove a mistaken collaboration that has sent nothing yet, with its unsent mail,
    items and meetings. Returns how many queued mails were dropped. Its history stays,
    with one row saying who deleted it."""
    sent = has_sent(session, collab)
    if sent:
        raise DataError(
            f"{collab.code} has sent {sent} mail(s) already, so people know of it; "
            f'call it off instead: collabd collab cancel {collab.code} --reason "…"'
        )
    items = select(ActionItem.id).where(ActionItem.collaboration_id == collab.id)
    meetings = select(Meeting.id).where(Meeting.collaboration_id == collab.id)
    rounds = session.scalar(
        select(func.count(AcceptanceRequest.id)).where(
            AcceptanceRequest.collaboration_id == collab.id
        )
    )
    minutes = session.scalar(select(func.count(Minutes.id)).where(Minutes.meeting_id.in_(meetings)))
    if rounds or minutes:
        # Say which, and where they came from: an import's 验收 column makes acceptance
        # records before any mail went out, and the coordinator wonders why.
        kinds = [f"{minutes} version(s) of minutes"] if minutes else []
        kinds += (
            [
                f"{rounds} acceptance record(s) (written by an items import's 验收 column or by "
                "delivered results)"
            ]
            if rounds
            else []
        )
        raise DataError(
            f"{collab.code} has {' and '.join(kinds)}, which the ledger keeps; "
            f'call it off instead: collabd collab cancel {collab.code} --reason "…"'
        )
    session.flush()
    dropped = session.execute(
        delete(OutboxMessage).where(
            or_(
                OutboxMessage.collaboration_id == collab.id,
                OutboxMessage.item_id.in_(items),
                OutboxMessage.meeting_id.in_(meetings),
            )
        )
    ).rowcount
    # Plain DELETEs: attendees, agenda, collaborators, dependencies, rule schedules and
    # participants go with their rows (ON DELETE CASCADE). The collaboration's own row stays
    # (the append-only history names it), marked deleted, its code free for reuse.
    for statement in (
        delete(DelayRequest).where(DelayRequest.item_id.in_(items)),
        delete(MinutesRequest).where(MinutesRequest.meeting_id.in_(meetings)),
        delete(Meeting).where(Meeting.collaboration_id == collab.id),
        delete(ActionItem).where(ActionItem.collaboration_id == collab.id),
        delete(Participant).where(Participant.collaboration_id == collab.id),
    ):
        session.execute(statement.execution_options(synchronize_session=False))
    session.expire_all()
    code = collab.code
    collab.code = f"{code[:40]}~deleted-{collab.id}"
    collab.status = CollabStatus.DELETED
    collab.archived_at = app.clock.now()
    record_on(
        session, origin, app.clock.now(), collab, action="deleted", old=f"{code} {collab.theme}"
    )
    session.flush()
    return dropped or 0


def cancel_collaboration(
    session: Session, app: App, collab: Collaboration, reason: str, origin: Origin
) -> list[ActionItem]:
    """取消: the collaboration stays, read-only, as cancelled; its open items are cancelled
    with it and nobody is chased again (its unsent reminders are withdrawn). Returns the
    items that were still open."""
    if not reason.strip():
        raise DataError(f"{collab.code}: say why it is called off (--reason)")
    ensure_active(collab)
    if not has_sent(session, collab):
        raise DataError(
            f"{collab.code} has sent nothing yet; remove it instead: collabd collab delete "
            f"{collab.code}"
        )
    now = app.clock.now()
    reason = reason.strip()
    open_items = list(
        session.scalars(
            select(ActionItem)
            .where(
                ActionItem.collaboration_id == collab.id,
                ActionItem.status.not_in(CLOSED_STATUSES),
            )
            .order_by(ActionItem.number)
        )
    )
    for item in open_items:
        update_item(
            session,
            app,
            item,
            ItemChange(status=ItemStatus.CANCELLED, note=reason),
            origin,
            note=reason,
        )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.collaboration_id == collab.id,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    collab.status = CollabStatus.CANCELLED
    collab.archived_at = now
    record_on(session, origin, now, collab, action="cancelled", new=reason, note=reason)
    session.flush()
    return open_items
