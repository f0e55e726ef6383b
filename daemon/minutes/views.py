"""Plain dicts of a meeting's minutes: what `collabd minutes show --json` prints."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..store.models import Meeting, Minutes, MinutesRequest
from .publish import row_views


def find_meeting(session: Session, ref: str) -> Meeting:
    """A meeting by its number (as in the minutes request mail) or its calendar UID."""
    ref = ref.strip()
    meeting = session.get(Meeting, int(ref)) if ref.isdigit() else None
    if meeting is None:
        meeting = session.scalar(select(Meeting).where(Meeting.uid == ref))
    if meeting is None:
        raise NotFound(f"no meeting {ref!r} (give its number or calendar UID)")
    return meeting


def minutes_view(session: Session, meeting: Meeting) -> dict:
    versions = list(
        session.scalars(
            select(Minutes).where(Minutes.meeting_id == meeting.id).order_by(Minutes.version)
        )
    )
    request = session.scalar(select(MinutesRequest).where(MinutesRequest.meeting_id == meeting.id))
    current = next((m for m in reversed(versions) if m.status.value == "published"), None)
    return {
        "meeting": meeting.id,
        "title": meeting.title,
        "collaboration": meeting.collaboration.code,
        "starts_at": meeting.starts_at,
        "host": meeting.host.email if meeting.host else None,
        "recorder": meeting.recorder.email if meeting.recorder else None,
        "requested_at": request.requested_at if request else None,
        "requests_sent": request.sent_count if request else 0,
        "version": current.version if current else None,
        "published_at": current.published_at if current else None,
        "source": current.source if current else None,
        "items": [
            {
                "ref": f"{meeting.collaboration.code}#{row.number}",
                "description": row.description,
                "owner": row.owner,
                "deadline": row.deadline,
                "priority": row.priority.value,
            }
            for row in (row_views(session, current) if current else [])
        ],
        "confirmations": [
            {
                "name": c.person.name,
                "email": c.person.email,
                "state": c.state.value,
                "note": c.note,
                "asked_at": c.asked_at,
                "answered_at": c.answered_at,
                "settled_by": c.settled_by,
            }
            for c in (current.confirmations if current else [])
        ],
        "versions": [
            {
                "version": m.version,
                "status": m.status.value,
                "published_at": m.published_at,
                "source": m.source,
            }
            for m in versions
        ],
    }
