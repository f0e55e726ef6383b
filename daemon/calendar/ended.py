"""A meeting whose end time has passed is over: its status becomes `ended` (已结束) in the
ledger, with a history line, so `meeting list|show`, the archive and anything reading the
table see the same thing. A tick job (rules/tick.py JOBS); idempotent, a second run finds
nothing to do."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..ledger.history import Origin, record_on
from ..ledger.items import still_active
from ..store.models import Meeting, MeetingStatus

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..app import App

RULE_ID = "meeting.ended"


def has_ended(meeting: Meeting, now: datetime) -> bool:
    return now >= meeting.starts_at + timedelta(minutes=meeting.duration_minutes)


def status_at(meeting: Meeting, now: datetime) -> MeetingStatus:
    """The status as of `now`: a scheduled meeting past its end is over even before the
    next tick has written so (a command run with --at, or between two ticks)."""
    if meeting.status is MeetingStatus.SCHEDULED and has_ended(meeting, now):
        return MeetingStatus.ENDED
    return meeting.status


def mark_ended_meetings(app: App, now: datetime) -> list[str]:
    """Tick job. It queues no mail, so it returns no lines (the tick's `queued`); what it
    did is in the history and the log."""
    origin = Origin.rule(RULE_ID, 0)
    with app.db.transaction() as session:
        # Meetings that have started and are still marked scheduled: after the first run
        # only those of the last day or so, so the scan stays small.
        started = session.scalars(
            select(Meeting)
            .where(
                Meeting.status == MeetingStatus.SCHEDULED,
                Meeting.starts_at <= now,
                still_active(Meeting.collaboration_id),  # an archived record stays as it was
            )
            .order_by(Meeting.starts_at, Meeting.id)
        )
        for meeting in started:
            if not has_ended(meeting, now):
                continue
            meeting.status = MeetingStatus.ENDED
            record_on(
                session,
                origin,
                now,
                meeting,
                action="ended",
                field="status",
                old=MeetingStatus.SCHEDULED.value,
                new=MeetingStatus.ENDED.value,
            )
            log.info("meeting %s «%s» ended", meeting.id, meeting.title)
    return []
