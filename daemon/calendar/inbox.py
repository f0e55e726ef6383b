"""The handler of the "calendar" route: read the iMIP part and send it on by METHOD.

A recurring series (or an occurrence of one) goes to series.py, which registers one meeting
per occurrence; every other REQUEST, CANCEL, REPLY or COUNTER goes to incoming.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..store.models import InboundStatus
from .imip import CalendarError, read_calendar
from .incoming import METHODS
from .series import handle_series, is_series
from .trust import refusal

if TYPE_CHECKING:
    from ..app import App
    from ..mail.envelope import Decision, Envelope


def handle_calendar(session: Session, app: App, envelope: Envelope) -> Decision:
    try:
        calendar = read_calendar(envelope.message, app.settings.tz)
    except CalendarError as exc:
        return InboundStatus.IGNORED, f"unreadable calendar mail: {exc}"
    if calendar is None or not calendar.events:
        return InboundStatus.IGNORED, "calendar mail without an event"
    handler = METHODS.get(calendar.method)
    if handler is None:
        return InboundStatus.IGNORED, f"METHOD:{calendar.method} is not something collabd acts on"
    refused = refusal(session, app, envelope, calendar)
    if refused:  # logged in the inbound log; nobody is answered
        return InboundStatus.IGNORED, f"{calendar.method} refused: {refused}"
    if calendar.method in ("REQUEST", "CANCEL") and is_series(session, calendar):
        return handle_series(session, app, envelope, calendar)  # one meeting per occurrence
    event = next((e for e in calendar.events if not e.recurrence_id), calendar.events[0])
    return handler(session, app, envelope, event)
