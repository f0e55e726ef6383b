"""A delay request still waiting when its item is done: there is nothing left to approve,
so it is withdrawn, recorded, and the initiator (who was asked to decide) is told.

Called where an item becomes done (closing/acceptance.deliver, for the command line and
mail alike); the approval flow itself is rules/delay.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..ledger.history import Origin, record_on
from ..mail.outbox import queue_mail
from ..store.models import ActionItem, DelayRequest

if TYPE_CHECKING:
    from ..app import App

WITHDRAWN = "withdrawn"


def withdraw_on_done(session: Session, app: App, item: ActionItem, origin: Origin) -> bool:
    request = session.scalar(
        select(DelayRequest).where(
            DelayRequest.item_id == item.id, DelayRequest.status == "pending"
        )
    )
    if request is None:
        return False
    now = app.clock.now()
    request.status, request.decided_at = WITHDRAWN, now
    request.decision_note = "行动项已完成 (the item is done)"
    record_on(
        session,
        origin,
        now,
        item,
        action="delay_withdrawn",
        field="delay_request",
        old=str(request.new_deadline),
        new=None,
        note="行动项已完成，延期申请撤回",
    )
    initiator = item.collaboration.initiator
    queue_mail(
        session,
        app,
        now=now,
        kind="delay_decision",
        dedupe_key=f"delay.decision:r{request.id}:{WITHDRAWN}::p{initiator.id}",
        to=initiator,
        context={"collab": item.collaboration, "item": item, "request": request, "problem": ""},
        collaboration_id=item.collaboration_id,
        item_id=item.id,
    )
    return True
