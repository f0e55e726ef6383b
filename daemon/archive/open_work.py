"""What is still open in a collaboration when someone archives it: items not done or
cancelled, results waiting for acceptance, the retrospective not asked for or not answered.

Archiving makes the record final and stops every reminder, so archiving over open work is a
decision the coordinator makes knowingly (`collabd archive --force`), never by accident.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..closing import retrospective
from ..store.models import (
    CLOSED_STATUSES,
    AcceptanceRequest,
    ActionItem,
    Collaboration,
    Meeting,
    MeetingStatus,
    Verdict,
    label,
)


def open_work(session: Session, collab: Collaboration, now: datetime | None = None) -> list[str]:
    """One line per open thing, in the words of the ledger (empty: nothing is open); with
    `now`, also the meetings still to come (--force cancels them in the attendees' calendars)."""
    items = list(
        session.scalars(
            select(ActionItem)
            .where(ActionItem.collaboration_id == collab.id)
            .order_by(ActionItem.number)
        )
    )
    lines = [
        f"#{item.number} {item.description}: {label(item.status, 'zh-CN')} "
        f"({item.owner.name}) — not done"
        for item in items
        if item.status not in CLOSED_STATUSES
    ]
    pending = session.scalars(
        select(AcceptanceRequest)
        .where(
            AcceptanceRequest.collaboration_id == collab.id,
            AcceptanceRequest.verdict == Verdict.PENDING,
        )
        .order_by(AcceptanceRequest.id)
    )
    lines += [
        f"#{r.item.number} {r.item.description}: waiting for acceptance by {r.receiver.name} "
        f"(round {r.round})"
        for r in pending
    ]
    if now is not None:
        lines += [
            f"meeting {m.id} {m.title}: still to come ({m.starts_at:%Y-%m-%d %H:%M} UTC); "
            "--force cancels it and sends its attendees a cancellation"
            for m in session.scalars(
                select(Meeting)
                .where(
                    Meeting.collaboration_id == collab.id,
                    Meeting.status != MeetingStatus.CANCELLED,
                    Meeting.starts_at > now,
                )
                .order_by(Meeting.starts_at)
            )
        ]
    retro = retrospective.find(session, collab)
    if retro is None:
        lines.append("retrospective (复盘) never requested: `collabd collab close` asks for it")
    else:
        answered = {answer.person_id for answer in retro.answers}
        silent = [p.name for p in retrospective.participants(collab, items) if p.id not in answered]
        if silent:
            lines.append("retrospective (复盘) not answered by " + "、".join(silent))
    return lines
