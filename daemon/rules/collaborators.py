"""Collaborators (协作人) are told, never chased: when an item they help with is done, each
hears so once, from the pass (so it holds however the item became done: a reply, the
command line, an import). The owner answers for the item; reminders and escalations stay
theirs. Their first mail, at assignment, is items_assisting (daemon/announce).

One query per pass over the collaborator table joined to items done in the last week (an
item done long ago, say in an imported ledger, is no news); the outbox's dedupe key makes
"once" hold across ticks and replicas, and a reopened item done again is news again.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select

from ..store.models import (
    ActionItem,
    Collaboration,
    CollabStatus,
    ItemStatus,
    Person,
    item_collaborators,
)
from .evaluation import Pass
from .reasons import reason

DONE = "collaborator.done"
NEWS_FOR = timedelta(days=7)


def run(run: Pass) -> None:
    rows = run.session.execute(
        select(ActionItem, Person)
        .join(item_collaborators, item_collaborators.c.item_id == ActionItem.id)
        .join(Person, Person.id == item_collaborators.c.person_id)
        .join(Collaboration, Collaboration.id == ActionItem.collaboration_id)
        .where(Collaboration.status == CollabStatus.ACTIVE, ActionItem.status == ItemStatus.DONE)
    )
    for item, person in rows:
        since = item.status_since
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        if person.id == item.owner_id or run.now - since > NEWS_FOR:
            continue
        run.send(
            rule=DONE,
            level=0,
            kind="collaborator_done",
            key=f"{DONE}:i{item.id}:{since:%Y%m%d%H%M%S}:p{person.id}",
            to=person,
            context={"collab": item.collaboration, "item": item},
            subject=item.ref,
            reasons=[reason("collaborator_done", item=item.number)],
            collaboration_id=item.collaboration_id,
            item_id=item.id,
        )
