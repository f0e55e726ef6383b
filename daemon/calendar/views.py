"""Meetings as plain dicts: for `collabd meeting list|show [--json]` and the mail templates."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..store.models import Meeting
from .ended import status_at


def _local(instant: datetime | None, zone: ZoneInfo) -> str | None:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M") if instant else None


def meeting_view(meeting: Meeting, zone: ZoneInfo, now: datetime | None = None) -> dict:
    """`now` given: the status as of then (a meeting past its end is `ended`)."""
    end = meeting.starts_at + timedelta(minutes=meeting.duration_minutes)
    agenda = [
        {
            "position": item.position,
            "topic": item.topic,
            "owner": item.owner.name if item.owner else "",
            "owner_email": item.owner.email if item.owner else "",
            "minutes": item.minutes,
        }
        for item in meeting.agenda
    ]
    attendees = [
        {
            "name": a.person.name if a.person else "",
            "email": a.email,
            "department": a.person.department.name if a.person and a.person.department else "",
            "role": a.role.value,
            "rsvp": a.rsvp,
            "rsvp_at": _local(a.rsvp_at, zone),
            "comment": a.comment,
            "proposed_start": _local(a.proposed_start, zone),
            "proposed_end": _local(a.proposed_end, zone),
        }
        for a in meeting.attendees
    ]
    counts: dict[str, int] = {}
    for attendee in meeting.attendees:
        counts[attendee.rsvp.value] = counts.get(attendee.rsvp.value, 0) + 1
    return {
        "id": meeting.id,
        "uid": meeting.uid,
        # an occurrence of a recurring series: the series' UID and this occurrence's
        # original start (calendar/series.py)
        "series_uid": meeting.series_uid,
        "recurrence_id": _local(meeting.recurrence_id, zone),
        "sequence": meeting.sequence,
        "status": (status_at(meeting, now) if now else meeting.status).value,
        "collab": meeting.collaboration.code if meeting.collaboration else None,
        "collab_theme": meeting.collaboration.theme if meeting.collaboration else "",
        "title": meeting.title,
        "start": _local(meeting.starts_at, zone),
        "end": _local(end, zone),
        "starts_at": meeting.starts_at.isoformat(),
        "duration_minutes": meeting.duration_minutes,
        "timezone": meeting.timezone,
        "location": meeting.location,
        "online_url": meeting.online_url,
        "host": meeting.host.name if meeting.host else "",
        "host_email": meeting.host.email if meeting.host else "",
        "recorder": meeting.recorder.name if meeting.recorder else "",
        "recorder_email": meeting.recorder.email if meeting.recorder else "",
        "organizer": meeting.organizer_email,
        "urgent_reason": meeting.urgent_reason,
        "description": meeting.description,
        "agenda": agenda,
        "agenda_minutes": sum(item["minutes"] for item in agenda),
        "attendees": attendees,
        "rsvp_counts": counts,
        "attachments": [
            {"filename": a.filename, "size": a.size, "content_type": a.content_type}
            for a in meeting.attachments
        ],
    }
