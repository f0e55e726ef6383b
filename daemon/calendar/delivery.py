"""Sending an invitation: the one place that decides HOW a meeting reaches calendars.

Today that is iMIP (RFC 6047): one mail per person through the outbox, each carrying the
same calendar object, so every calendar shows the full attendee list. An Exchange (EWS)
backend replaces the body of `send_invitation` and nothing else: scheduling, updates and
cancellations all come through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..mail.compose import Attachment, CalendarPart
from ..mail.outbox import enqueue
from ..store.models import Attendee, Meeting
from .ical import organizer_request
from .views import meeting_view

if TYPE_CHECKING:
    from ..app import App

KINDS = {"REQUEST": "meeting_invite", "CANCEL": "meeting_cancel"}


def send_invitation(
    session: Session,
    app: App,
    meeting: Meeting,
    method: str,
    recipients: Sequence[Attendee],
    *,
    change: str,
    listed: Sequence[Attendee] | None = None,
) -> int:
    """Queue a REQUEST or CANCEL for `recipients`, in the same transaction as the change.

    `change` (scheduled, updated, cancelled, removed) words the mail; `listed` are the
    ATTENDEEs written into the object (default: all; a CANCEL to removed people lists only
    them). People outside the ledger (no Person row) are skipped: the outbox mails people.
    Returns how many mails were queued."""
    now = app.clock.now()
    ics = organizer_request(
        meeting,
        method,
        organizer_name=app.identity.name,
        organizer_email=app.identity.address,
        now=now,
        attendees=listed,
    )
    calendar = CalendarPart(ics, method)
    attachments = (
        [Attachment(a.filename, a.content or b"", a.content_type) for a in meeting.attachments]
        if method == "REQUEST"
        else []
    )
    view = meeting_view(meeting, app.settings.tz)
    queued = 0
    for attendee in recipients:
        if attendee.person is None:
            continue
        queued += enqueue(
            session,
            renderer=app.renderer,
            identity=app.identity,
            now=now,
            kind=KINDS[method],
            dedupe_key=f"meeting:{meeting.id}:{meeting.sequence}:{method}:{attendee.person.id}",
            to=attendee.person,
            context={"meeting": view, "change": change},
            collaboration_id=meeting.collaboration_id,
            meeting_id=meeting.id,
            calendar=calendar,
            attachments=attachments,
        )
    return queued
