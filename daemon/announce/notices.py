"""Mail that follows directly from a ledger change, queued in the same transaction.

(Mail that follows from time passing — reminders, escalations — belongs to daemon.rules.)
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..mail.answer import own_open_items
from ..mail.outbox import queue_mail
from ..rules.current import calendar_in
from ..store.models import ActionItem, Collaboration, Person

if TYPE_CHECKING:
    from ..app import App


def kickoff(session: Session, app: App, collaboration: Collaboration) -> int:
    """Tell everyone involved that the collaboration exists, who does what, and how to reply."""
    people: dict[int, Person] = {}
    for person in (
        collaboration.initiator,
        collaboration.coordinator,
        *(p.contact for p in collaboration.participants),
    ):
        people.setdefault(person.id, person)
    queued = 0
    today = app.clock.now().astimezone(app.settings.tz).date()
    working_day = calendar_in(session, app).is_working_day
    for person in people.values():
        queued += queue_mail(
            session,
            app,
            kind="collab_kickoff",
            dedupe_key=f"kickoff:{collaboration.id}:{person.id}",
            to=person,
            # the examples name the reader's own items (another's would be refused)
            context={
                "collab": collaboration,
                "own": own_open_items(session, person, collaboration),
                "today": today,
                "working_day": working_day,
            },
            collaboration_id=collaboration.id,
        )
    return queued


def items_assigned(session: Session, app: App, items: list[ActionItem]) -> int:
    """One mail per owner listing all of their new items, with the reply syntax; and one
    per collaborator (协作人) listing the new items they help with and who leads each."""
    by_owner: dict[int, list[ActionItem]] = defaultdict(list)
    by_helper: dict[int, list[ActionItem]] = defaultdict(list)
    for item in items:
        by_owner[item.owner_id].append(item)
        for helper in item.collaborators:
            if helper.id != item.owner_id:
                by_helper[helper.id].append(item)
    queued = 0
    for kind, key, grouped in (
        ("items_assigned", "assigned", by_owner),
        ("items_assisting", "assisting", by_helper),
    ):
        for person_id, listed in grouped.items():
            person = next(
                p for p in (listed[0].owner, *listed[0].collaborators) if p.id == person_id
            )
            queued += queue_mail(
                session,
                app,
                kind=kind,
                dedupe_key=f"{key}:{person.id}:{_ids(listed)}",
                to=person,
                context={"collab": listed[0].collaboration, "items": listed, "removed": False},
                collaboration_id=listed[0].collaboration_id,
                item_id=listed[0].id if len(listed) == 1 else None,
            )
    return queued


def _ids(items: list[ActionItem]) -> str:
    ids = ",".join(str(item.id) for item in items)
    if len(ids) > 200:  # an imported ledger: hundreds of items in one mail
        ids = f"{items[0].id}-{items[-1].id}:{hashlib.sha256(ids.encode()).hexdigest()[:16]}"
    return ids
