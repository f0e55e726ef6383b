"""What the two Exchange calendars (EWS: calendar/ews.py, Microsoft Graph: calendar/graph.py)
share: the agenda as the item's HTML body, the meeting's files, and the attendees' answers
read from the organizer's item into the ledger.

Attendees are matched by mail address, case-insensitively, as the invitation went out. An
answer (accepted, declined, tentative) that differs from the ledger's is written with the
time it was read and recorded in the history; "no answer yet" leaves the ledger as it is. A
proposed new time is written to the attendee's comment and returned to the caller.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import object_session

from ..ledger.history import Origin, record
from ..mail.transport.base import PermanentFailure
from ..store.models import Meeting, MeetingStatus, Rsvp

if TYPE_CHECKING:
    from ..app import App

# An attendee's answer as the organizer's item shows it: the answer (None: not answered),
# and a proposed (start, end) if they asked for another time.
Answer = tuple[Rsvp | None, tuple[datetime, datetime] | None]


@dataclass(frozen=True)
class RsvpChange:
    email: str
    old: Rsvp
    new: Rsvp
    proposed: tuple[datetime, datetime] | None = None

    def describe(self) -> str:
        line = f"{self.email}: {self.old.value} → {self.new.value}"
        if self.proposed:
            line += f", proposes {self.proposed[0].isoformat()} – {self.proposed[1].isoformat()}"
        return line


def apply_answers(app: App, meeting: Meeting, answers: dict[str, Answer]) -> list[RsvpChange]:
    """Write the answers (by mail address) into the meeting's attendees, each change in the
    history. Runs inside the caller's transaction (the one `meeting` was loaded in)."""
    session = object_session(meeting)
    now = app.clock.now()
    by_address = {address.lower(): answer for address, answer in answers.items()}
    changes: list[RsvpChange] = []
    for attendee in meeting.attendees:
        new, proposed = by_address.get(attendee.email.lower(), (None, None))
        if new is None or (new is attendee.rsvp and proposed is None):
            continue
        note = ""
        if proposed is not None:
            note = f"proposes a new time: {proposed[0].isoformat()} – {proposed[1].isoformat()}"
            if attendee.comment == note and new is attendee.rsvp:
                continue
            attendee.comment = note
        changes.append(RsvpChange(attendee.email, attendee.rsvp, new, proposed))
        if session is not None:
            record(
                session,
                Origin.system("exchange calendar"),
                now,
                entity="meeting",
                entity_id=meeting.id,
                action="rsvp",
                collaboration_id=meeting.collaboration_id,
                field=f"rsvp:{attendee.email}",
                old=attendee.rsvp,
                new=new,
                note=note,
            )
        attendee.rsvp, attendee.rsvp_at = new, now
    return changes


def sync_upcoming(
    app: App,
    now: datetime,
    backend: str,
    sync: Callable[[App, Meeting], list[RsvpChange]],
) -> list[str]:
    """A tick job for an Exchange calendar: read the answers to every scheduled meeting that
    has not ended yet, one transaction per meeting. Nothing unless `backend` is in use."""
    if app.settings.calendar.backend != backend:
        return []
    with app.db.transaction() as session:
        ids = list(
            session.scalars(
                select(Meeting.id).where(
                    Meeting.status == MeetingStatus.SCHEDULED,
                    Meeting.starts_at >= now - timedelta(days=1),
                )
            )
        )
    lines = []
    for meeting_id in ids:
        with app.db.transaction() as session:
            meeting = session.get(Meeting, meeting_id)
            lines += [f"rsvp {meeting.uid}: {c.describe()}" for c in sync(app, meeting)]
    return lines


def read_attachment(app: App, path: str) -> bytes:
    full = app.settings.data_dir / path
    try:
        return full.read_bytes()
    except OSError as exc:
        raise PermanentFailure(f"meeting attachment {full} cannot be read: {exc}") from exc


def agenda_html(meeting: Meeting) -> str:
    """The invitation body Outlook shows: the agenda as a table with inline styles."""
    cell = 'style="border:1px solid #ccc;padding:4px 8px"'
    rows = "".join(
        f"<tr><td {cell}>{item.position}</td><td {cell}>{html.escape(item.topic)}</td>"
        f"<td {cell}>{html.escape(item.owner.name if item.owner else '')}</td>"
        f"<td {cell}>{item.minutes} min</td></tr>"
        for item in meeting.agenda
    )
    online = (
        f'<p>Online: <a href="{html.escape(meeting.online_url)}">'
        f"{html.escape(meeting.online_url)}</a></p>"
        if meeting.online_url
        else ""
    )
    return (
        f"<html><body><h3>{html.escape(meeting.title)}</h3>{online}"
        '<table style="border-collapse:collapse">'
        f"<tr><th {cell}>#</th><th {cell}>议题 Topic</th><th {cell}>负责人 Owner</th>"
        f"<th {cell}>时长 Time</th></tr>{rows}</table></body></html>"
    )
