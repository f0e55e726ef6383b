"""Mail that follows directly from a ledger change, queued in the same transaction.

(Mail that follows from time passing — reminders, escalations — belongs to daemon.rules.)
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..mail.outbox import queue_mail
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
    for person in people.values():
        queued += queue_mail(
            session,
            app,
            kind="collab_kickoff",
            dedupe_key=f"kickoff:{collaboration.id}:{person.id}",
            to=person,
            context={"collab": collaboration},
            collaboration_id=collaboration.id,
        )
    return queued


def items_assigned(session: Session, app: App, items: list[ActionItem]) -> int:
    """One mail per owner listing all of their new items, with the reply syntax."""
    by_owner: dict[int, list[ActionItem]] = defaultdict(list)
    for item in items:
        by_owner[item.owner_id].append(item)
    queued = 0
    for owned in by_owner.values():
        owner = owned[0].owner
        ids = ",".join(str(item.id) for item in owned)
        if len(ids) > 200:  # an imported ledger: hundreds of items in one mail
            ids = f"{owned[0].id}-{owned[-1].id}:{hashlib.sha256(ids.encode()).hexdigest()[:16]}"
        queued += queue_mail(
            session,
            app,
            kind="items_assigned",
            dedupe_key=f"assigned:{owner.id}:{ids}",
            to=owner,
            context={"collab": owned[0].collaboration, "items": owned},
            collaboration_id=owned[0].collaboration_id,
            item_id=owned[0].id if len(owned) == 1 else None,
        )
    return queued
