"""A mail that could not be delivered (5xx, or 4xx past the retry deadline) is recorded as
failed by the outbox; this job tells the collaboration's coordinator, once per mail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..mail.outbox import queue_mail
from ..mail.undelivered import reason
from ..store.models import Collaboration, OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from ..app import App

KIND = "delivery_failed"
LOOKBACK = timedelta(days=7)


def report_failures(app: App, now: datetime) -> list[str]:
    lines = []
    with app.db.transaction() as session:
        failed = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.status == OutboxStatus.FAILED,
                    OutboxMessage.not_before >= now - LOOKBACK,
                    OutboxMessage.kind != KIND,  # a failed failure notice is not reported on
                    OutboxMessage.collaboration_id.is_not(None),
                )
            )
        )
        keys = {f"{KIND}:o{row.id}": row for row in failed}
        if not keys:
            return []
        done = set(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))
            )
        )
        for key, row in keys.items():
            if key in done:
                continue
            collab = session.get(Collaboration, row.collaboration_id)
            queued = queue_mail(
                session,
                app,
                now=now,
                kind=KIND,
                dedupe_key=key,
                to=collab.coordinator,
                context={"collab": collab, "failed": row, "reason": reason(row.last_error)},
                collaboration_id=collab.id,
                item_id=row.item_id,
                rule_id="outbox.failed",
                rule_level=0,
            )
            if queued:
                lines.append(f"delivery failed: told {collab.coordinator.email} about {row.id}")
    return lines
