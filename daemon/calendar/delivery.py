"""Sending an invitation: the one place that decides HOW a meeting reaches calendars.

By default that is iMIP (RFC 6047): one mail per person through the outbox, each carrying
the same calendar object, so every calendar shows the full attendee list. With
`calendar.backend = "ews"` (calendar/ews.py) or `"graph"` (calendar/graph.py) the meeting
is written into the collabd mailbox's Exchange calendar instead and Exchange sends the
invitations. Scheduling, updates and cancellations all come through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..mail.compose import Attachment, CalendarPart
from ..mail.outbox import queue_mail
from ..store.models import Attendee, Meeting
from .exchange_shared import read_attachment
from .ical import organizer_request
from .views import meeting_view

if TYPE_CHECKING:
    from ..app import App

KINDS = {"REQUEST": "meeting_invite", "CANCEL": "meeting_cancel"}


# What Outlook sets on a high-importance mail; older clients read X-Priority.
URGENT_HEADERS = {"Importance": "high", "X-Priority": "1 (Highest)"}


def send_invitation(
    session: Session,
    app: App,
    meeting: Meeting,
    method: str,
    recipients: Sequence[Attendee],
    *,
    change: str,
    listed: Sequence[Attendee] | None = None,
    changed: Sequence[dict] = (),
) -> int:
    """Queue a REQUEST or CANCEL for `recipients`, in the same transaction as the change.

    `change` (scheduled, updated, cancelled, removed) words the mail; `listed` are the
    ATTENDEEs written into the object (default: all; a CANCEL to removed people lists only
    them); `changed` ({field, old, new}) is what an update changed, said as 原定 → 现在.
    People outside the ledger (no Person row) are skipped: the outbox mails people.
    Returns how many mails were queued (or, through Exchange, how many people it invites)."""
    # A dry run never touches Exchange: it writes the iMIP mails that show the invitation.
    exchange = app.settings.calendar.backend in ("ews", "graph")
    if exchange and not session.info.get("collabd.dry_run"):
        return _through_exchange(app, meeting, method, recipients, listed)
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
        [
            # An organizer's files are kept in the data directory (calendar/files.py).
            Attachment(
                a.filename,
                a.content if a.content is not None else read_attachment(app, a.path),
                a.content_type,
            )
            for a in meeting.attachments
        ]
        if method == "REQUEST"
        else []
    )
    view = meeting_view(meeting, app.settings.tz)
    queued = 0
    for attendee in recipients:
        if attendee.person is None:
            continue
        queued += queue_mail(
            session,
            app,
            now=now,
            kind=KINDS[method],
            dedupe_key=f"meeting:{meeting.id}:{meeting.sequence}:{method}:{attendee.person.id}",
            to=attendee.person,
            context={"meeting": view, "change": change, "changed": list(changed)},
            collaboration_id=meeting.collaboration_id,
            meeting_id=meeting.id,
            headers=URGENT_HEADERS if meeting.urgent_reason and method == "REQUEST" else None,
            calendar=calendar,
            attachments=attachments,
        )
    return queued


def _through_exchange(
    app: App,
    meeting: Meeting,
    method: str,
    recipients: Sequence[Attendee],
    listed: Sequence[Attendee] | None,
) -> int:
    """Exchange keeps the attendee list and sends REQUESTs and CANCELs itself. Called inside
    the scheduling transaction: if Exchange refuses, the error rolls the change back and the
    coordinator sees why (TemporaryFailure / PermanentFailure from calendar/ews.py or
    calendar/graph.py)."""
    if app.settings.calendar.backend == "graph":
        from . import graph as exchange
    else:
        from . import ews as exchange

    if method == "REQUEST":
        # New, or rewritten with the current attendees: Exchange sends the update, and the
        # cancellations to anyone taken off the list.
        exchange.send_meeting(app, meeting)
    elif listed is None:  # the whole meeting is cancelled
        exchange.cancel_meeting(app, meeting)
    # else: a CANCEL to removed people, already sent by Exchange with the REQUEST above
    return len(recipients)
