"""Telling people about a change to a collaboration after the start: its goal, background,
dates or coordinator; a department joining, leaving, or getting a new contact or role; the
collaboration called off (取消).

Each person concerned gets one short mail in their language saying what changed, who changed
it and what, if anything, they are to do now. The person who made the change is not told
about their own change (their command already answered them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from ..calendar.scheduling import cancel as cancel_meeting
from ..ledger.collab_edits import (
    CollabEdit,
    add_participant,
    cancel_collaboration,
    change_participant,
    edit_collaboration,
    remove_participant,
)
from ..ledger.items import OPEN_STATUSES, ItemFilter, query_items
from ..mail.outbox import queue_mail
from ..store.models import (
    ActionItem,
    Collaboration,
    Meeting,
    MeetingStatus,
    Participant,
    ParticipantRole,
    Person,
)
from .changes import by

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..app import App
    from ..ledger.collab_edits import Change
    from ..ledger.history import Origin
    from ..store.models import Department


def involved(session: Session, collab: Collaboration) -> list[Person]:
    """Everyone a change to the whole collaboration concerns: initiator, coordinator, each
    department's contact, and the owners and collaborators of its open items."""
    people: dict[int, Person] = {}
    items = query_items(session, ItemFilter(collab=collab, statuses=OPEN_STATUSES))
    owners = [p for item in items for p in (item.owner, *item.collaborators)]
    for person in (
        collab.initiator,
        collab.coordinator,
        *(p.contact for p in collab.participants),
        *owners,
    ):
        people.setdefault(person.id, person)
    return list(people.values())


def _tell(
    session: Session,
    app: App,
    collab: Collaboration,
    kind: str,
    key: str,
    people: list[Person],
    origin: Origin,
    **context: object,
) -> int:
    actor = origin.person.id if origin.person else None
    stamp = f"{collab.id}:{origin.source}:{app.clock.now().isoformat()}"
    queued, told = 0, set()
    for person in people:
        if person.id in told or person.id == actor:
            continue
        told.add(person.id)
        queued += queue_mail(
            session,
            app,
            kind=kind,
            dedupe_key=f"{key}:{stamp}:{person.id}",
            to=person,
            context={"collab": collab, "by": by(origin), **context},
            collaboration_id=collab.id,
        )
    return queued


def edit(
    session: Session, app: App, collab: Collaboration, change: CollabEdit, origin: Origin
) -> tuple[list[Change], int]:
    """`collab edit`: everyone involved hears what changed; a replaced coordinator too."""
    changes = edit_collaboration(session, app, collab, change, origin)
    if not changes:
        return changes, 0
    people = involved(session, collab)
    people += [old for name, old, _ in changes if name == "coordinator"]
    return changes, _tell(
        session, app, collab, "collab_changed", "collab_changed", people, origin, changes=changes
    )


def add_department(
    session: Session,
    app: App,
    collab: Collaboration,
    department: Department,
    contact: Person,
    role: ParticipantRole,
    duties: str,
    origin: Origin,
) -> tuple[Participant, int]:
    """The new contact hears what the collaboration is and their department's part in it;
    the coordinator hears who joined."""
    participant = add_participant(session, app, collab, department, contact, role, duties, origin)
    queued = _department_mail(session, app, collab, participant, "added", [contact], origin)
    queued += _department_mail(
        session, app, collab, participant, "added_note", [collab.coordinator], origin
    )
    return participant, queued


def change_department(
    session: Session,
    app: App,
    collab: Collaboration,
    department: Department,
    origin: Origin,
    **wanted: object,
) -> tuple[list[Change], int]:
    """A new contact hears they are it (and the one before that they no longer are); a new
    role or duties reach the contact."""
    participant, changes = change_participant(session, app, collab, department, origin, **wanted)
    queued = 0
    for name, old, new in changes:
        if name == "contact":
            queued += _department_mail(
                session, app, collab, participant, "contact_new", [new], origin, old=old
            )
            queued += _department_mail(
                session, app, collab, participant, "contact_old", [old], origin, old=old
            )
    others = [c for c in changes if c[0] != "contact"]
    if others:
        queued += _department_mail(
            session,
            app,
            collab,
            participant,
            "changed",
            [participant.contact],
            origin,
            changes=others,
        )
    if changes:
        queued += _department_mail(
            session,
            app,
            collab,
            participant,
            "changed_note",
            [collab.coordinator],
            origin,
            changes=changes,
        )
    return changes, queued


def remove_department(
    session: Session, app: App, collab: Collaboration, department: Department, origin: Origin
) -> int:
    """The department's contact hears that it no longer takes part (no more mail)."""
    participant = remove_participant(session, app, collab, department, origin)
    people = [participant.contact, collab.coordinator]
    return _department_mail(session, app, collab, participant, "removed", people, origin)


def _department_mail(
    session: Session,
    app: App,
    collab: Collaboration,
    participant: Participant,
    change: str,
    people: list[Person],
    origin: Origin,
    *,
    old: Person | None = None,
    changes: list[Change] | None = None,
) -> int:
    return _tell(
        session,
        app,
        collab,
        "participant_changed",
        f"participant:{participant.department.id}:{change}",
        people,
        origin,
        change=change,
        department=participant.department,
        participant=participant,
        old_contact=old,
        changes=changes or [],
    )


def meetings_to_come(session: Session, app: App, collab: Collaboration) -> list[Meeting]:
    """The collaboration's meetings collabd organised that have not started nor been
    cancelled: what a collaboration that ends (取消, archive) must take out of calendars."""
    return list(
        session.scalars(
            select(Meeting)
            .where(
                Meeting.collaboration_id == collab.id,
                Meeting.status != MeetingStatus.CANCELLED,
                Meeting.starts_at > app.clock.now(),
                Meeting.organizer_email == app.identity.address,
            )
            .order_by(Meeting.starts_at)
        )
    )


def cancel_meetings_to_come(
    session: Session, app: App, collab: Collaboration, origin: Origin, reason: str
) -> list[Meeting]:
    """Archiving over open work (--force): its meetings still to come are cancelled like
    those of a collaboration called off (a CANCEL to every attendee). Returns them."""
    upcoming = meetings_to_come(session, app, collab)
    for meeting in upcoming:
        cancel_meeting(session, app, meeting, origin, reason, with_collaboration=True)
    return upcoming


def cancel(
    session: Session, app: App, collab: Collaboration, reason: str, origin: Origin
) -> tuple[list[ActionItem], int, int]:
    """取消: everyone involved hears it once; its meetings still to come are cancelled in
    the attendees' calendars. Returns the items called off, mails queued, meetings cancelled."""
    people = involved(session, collab)  # before the items close: their owners are told too
    upcoming = meetings_to_come(session, app, collab)
    # First the record (it withdraws the mail still queued), then the new mail.
    items = cancel_collaboration(session, app, collab, reason, origin)
    queued = 0
    for meeting in upcoming:
        queued += cancel_meeting(
            session, app, meeting, origin, reason.strip(), with_collaboration=True
        ).queued
    queued += _tell(
        session,
        app,
        collab,
        "collab_cancelled",
        "collab_cancelled",
        people,
        origin,
        reason=reason.strip(),
        items=items,
        meetings=upcoming,
    )
    return items, queued, len(upcoming)
