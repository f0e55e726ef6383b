"""Announcing ledger changes: the ledger records, this package tells the people concerned.

`start_collaboration` and `assign_items` are what the CLI, minutes publishing and tests call:
the ledger change and its mail are queued in the same transaction, so either both happen or
neither does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from ..ledger.collaborations import create_collaboration
from ..ledger.items import add_items
from ..store.models import ActionItem
from . import notices

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..app import App
    from ..ledger.history import Origin
    from ..ledger.specs import CollaborationSpec, ItemSpec
    from ..store.models import Collaboration


def start_collaboration(
    session: Session, app: App, spec: CollaborationSpec, origin: Origin
) -> Collaboration:
    """Record the collaboration (and the items its file lists), then queue the kick-off mail
    to everyone involved and one assignment mail per owner."""
    collaboration = create_collaboration(session, app, spec, origin)
    notices.kickoff(session, app, collaboration)
    items = list(
        session.scalars(
            select(ActionItem)
            .where(ActionItem.collaboration_id == collaboration.id)
            .order_by(ActionItem.number)
        )
    )
    if items:
        notices.items_assigned(session, app, items)
    return collaboration


def assign_items(
    session: Session,
    app: App,
    collaboration: Collaboration,
    specs: list[ItemSpec],
    origin: Origin,
) -> list[ActionItem]:
    """Record new items and tell each owner, in one mail, what they now own."""
    items = add_items(session, app, collaboration, specs, origin)
    notices.items_assigned(session, app, items)
    return items
