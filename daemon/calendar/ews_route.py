"""Meeting responses in the collabd mailbox when the calendar is Exchange's
(`calendar.backend = "ews"` or `"graph"`): a route for inbound/routes.py.

When an attendee answers (accept, decline, tentative, or propose a new time), Exchange
drops a MeetingResponse into the organizer's inbox (whose MIME carries a METHOD:REPLY, or
METHOD:COUNTER for a new time, iCalendar part) and records the answer on the organizer's
calendar item. collabd matches the response to its meeting by the iCalendar UID in that
part, then reads the answer from the organizer's item (`sync_rsvps`, which finds it by its
CleanGlobalObjectId): that item is what Outlook shows the organizer, so the ledger agrees
with it even when responses arrive out of order. With `calendar.backend = "imip"` this
route never matches and the iMIP reader handles calendar mail.

Through Microsoft Graph the answer carries Exchange's UID for the event (its iCalUId), not
collabd's: calendar/graph.py maps it back to the meeting through the event's collabd UID
property before the answers are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import InboundStatus, Meeting

if TYPE_CHECKING:
    from ..app import App
    from ..mail.envelope import Envelope

ANSWERS = ("REPLY", "COUNTER")
EXCHANGE_CALENDARS = ("ews", "graph")


def _calendar_answer(envelope: Envelope) -> tuple[str, str] | None:
    """(METHOD, UID) of the mail's iCalendar answer, or None."""
    import icalendar

    for part in envelope.message.walk():
        if part.get_content_type() != "text/calendar":
            continue
        try:
            calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True) or b"")
        except ValueError:
            continue
        method = str(calendar.get("METHOD", "")).upper()
        for event in calendar.walk("VEVENT"):
            uid = str(event.get("UID", "")).strip()
            if method in ANSWERS and uid:
                return method, uid
    return None


def is_exchange_meeting_answer(app: App, envelope: Envelope) -> bool:
    return (
        app.settings.calendar.backend in EXCHANGE_CALENDARS
        and _calendar_answer(envelope) is not None
    )


def apply_exchange_meeting_answer(
    session: Session, app: App, envelope: Envelope
) -> tuple[InboundStatus, str]:
    method, uid = _calendar_answer(envelope) or ("", "")
    if app.settings.calendar.backend == "graph":
        from .graph import meeting_uid_for, sync_rsvps

        uid = meeting_uid_for(app, uid) or uid
    else:
        from .ews import sync_rsvps
    meeting = session.scalar(select(Meeting).where(Meeting.uid == uid))
    if meeting is None:
        return InboundStatus.IGNORED, f"{method} for UID {uid}: not a collabd meeting"
    changes = sync_rsvps(app, meeting)
    if not changes:
        return (
            InboundStatus.IGNORED,
            f"{method} from {envelope.sender} for {meeting.uid}: the organizer's item in "
            "Exchange shows nothing new",
        )
    return InboundStatus.APPLIED, (
        f"{method} for {meeting.uid}, read from the organizer's item in Exchange: "
        + "; ".join(change.describe() for change in changes)
    )
