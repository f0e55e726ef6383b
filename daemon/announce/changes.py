"""Telling people about a change to an item after the start: a new owner (转交), a
cancellation (取消), an edited deadline, task or criteria, a dependency that fired.

Each person gets one mail per change that concerns them, in their language, saying what
changed, who changed it and what they are to do now. The person who made the change is
not told about their own change (their command already answered them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..mail.outbox import queue_mail
from ..store.models import ActionItem, Person

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..app import App
    from ..ledger.edits import Change
    from ..ledger.history import Origin

# Fields whose change the owner hears about (the others concern only the record).
OWNER_FIELDS = (
    "description",
    "done_criteria",
    "deadline",
    "priority",
    "support_needed",
    "receiver",
    "collaborators",
    "depends_on",
)


def _tell(
    session: Session,
    app: App,
    kind: str,
    key: str,
    people: list[Person],
    origin: Origin,
    item: ActionItem,
    **context: object,
) -> int:
    sent: set[int] = set()
    actor = origin.person.id if origin.person else None
    queued = 0
    for person in people:
        if person is None or person.id in sent or person.id == actor:
            continue
        sent.add(person.id)
        queued += queue_mail(
            session,
            app,
            kind=kind,
            dedupe_key=f"{key}:{person.id}",
            to=person,
            context={"collab": item.collaboration, "item": item, "by": by(origin), **context},
            collaboration_id=item.collaboration_id,
            item_id=item.id,
        )
    return queued


def by(origin: Origin) -> str:
    """Who made a change, as people read it: a name, not `cli:root`."""
    return origin.person.name if origin.person else "collabd"


def item_changed(
    session: Session,
    app: App,
    item: ActionItem,
    changes: list[Change],
    origin: Origin,
    reason: str = "",
) -> int:
    """After edit_item: a new owner is told by all three concerned; other changes reach the
    owner (and the coordinator when someone else made them)."""
    if not changes:
        return 0
    stamp = f"{item.id}:{origin.source}:{app.clock.now().isoformat()}"
    queued = 0
    owner_change = next((c for c in changes if c[0] == "owner"), None)
    if owner_change is not None:
        old_owner, new_owner = owner_change[1], owner_change[2]
        told = [new_owner, old_owner, item.collaboration.coordinator]
        helpers = [p for p in item.collaborators if p not in told]  # they work with the owner
        for person, role in (
            (new_owner, "new"),
            (old_owner, "old"),
            (item.collaboration.coordinator, "coordinator"),
            *((helper, "collaborator") for helper in helpers),
        ):
            queued += _tell(
                session,
                app,
                "item_reassigned",
                f"reassigned:{stamp}:{role}",
                [person],
                origin,
                item,
                role=role,
                old_owner=old_owner,
                new_owner=new_owner,
                reason=reason,
            )
    helpers = next((c for c in changes if c[0] == "collaborators"), None)
    if helpers is not None:
        queued += _collaborators_changed(session, app, item, helpers, origin, stamp)
    others = [(f, o, n) for f, o, n in changes if f in OWNER_FIELDS]
    if others:
        queued += _tell(
            session,
            app,
            "item_edited",
            f"edited:{stamp}",
            [item.owner],
            origin,
            item,
            changes=others,
            reason=reason,
        )
    return queued


def _collaborators_changed(
    session: Session, app: App, item: ActionItem, change: Change, origin: Origin, stamp: str
) -> int:
    """A collaborator added is asked to help, as at the start; one taken off is told they
    are no longer needed. (The owner hears of the new list in item_edited.)"""
    _, old, new = change
    before, after = {p.id for p in old or ()}, {p.id for p in new or ()}
    queued = 0
    for people, removed in (
        ([p for p in new or () if p.id not in before], False),
        ([p for p in old or () if p.id not in after and p.id != item.owner_id], True),
    ):
        for person in people:
            queued += _tell(
                session,
                app,
                "items_assisting",
                f"assisting:{stamp}:{int(removed)}",
                [person],
                origin,
                item,
                items=[item],
                removed=removed,
            )
    return queued


def item_cancelled(
    session: Session, app: App, item: ActionItem, reason: str, origin: Origin
) -> int:
    """The owner, the collaborators and the coordinator hear that nobody works on it now."""
    return _tell(
        session,
        app,
        "item_cancelled",
        f"cancelled:{item.id}",
        [item.owner, *item.collaborators, item.collaboration.coordinator],
        origin,
        item,
        reason=reason,
    )
