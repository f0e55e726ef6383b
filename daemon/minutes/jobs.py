"""The time-driven part of the minutes flow: when a meeting ends, ask its recorder for the
minutes. Registered in daemon/rules/tick.py `JOBS`; chasing late minutes and silent
attendees is the rules engine's (it calls into confirm.py for the silence policy)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import exists, select

from ..ledger.items import still_active
from ..store.models import Meeting, MeetingStatus, Minutes, MinutesRequest
from .request import request_minutes

if TYPE_CHECKING:
    from ..app import App

# Meetings that ended longer ago than this are history, not a reason to mail today (a fresh
# install over an old ledger must not ask for last year's minutes).
LOOKBACK = timedelta(days=7)
LONGEST_MEETING = timedelta(days=1)


def ended_meetings_without_request(session, now: datetime) -> list[Meeting]:
    candidates = session.scalars(
        select(Meeting)
        .where(
            Meeting.status != MeetingStatus.CANCELLED,
            Meeting.recorder_id.is_not(None),
            Meeting.starts_at <= now,
            Meeting.starts_at >= now - LOOKBACK - LONGEST_MEETING,
            ~exists().where(MinutesRequest.meeting_id == Meeting.id),
            ~exists().where(Minutes.meeting_id == Meeting.id),
            still_active(Meeting.collaboration_id),  # archived: nothing more is asked
        )
        .order_by(Meeting.starts_at, Meeting.id)
    )
    return [
        meeting
        for meeting in candidates
        if meeting.status is MeetingStatus.ENDED
        or meeting.starts_at + timedelta(minutes=meeting.duration_minutes) <= now
    ]


def request_minutes_of_ended_meetings(app: App, now: datetime) -> list[str]:
    """Tick job: one minutes request per ended meeting, queued with its request row."""
    lines = []
    with app.db.transaction() as session:
        for meeting in ended_meetings_without_request(session, now):
            if request_minutes(session, app, meeting, now=now) is not None:
                lines.append(
                    f"minutes request: meeting {meeting.id} «{meeting.title}» → "
                    f"{meeting.recorder.email}"
                )
    return lines
