"""Meetings as Exchange calendar items (`calendar.backend = "ews"`).

Instead of mailing an iCalendar invitation, collabd creates the meeting in the collabd
mailbox's own Exchange calendar (CreateItem of a CalendarItem with the agenda, the
attendees and the background files attached) and lets Exchange send the invitations
(SendMeetingInvitations=SendToAllAndSaveCopy). Exchange then keeps the organizer's item up to
date as attendees answer, so RSVPs are read back from that item (`sync_rsvps`).

Which item is ours: the CalendarItem is created with the meeting's own iCalendar UID
(calendar:UID), so the invitations Exchange sends carry the same UID as collabd's iMIP
path would. Exchange cannot search on calendar:UID, so the item is found again through its
CleanGlobalObjectId (PidLidCleanGlobalObjectId, MS-OXOCAL 2.2.1.28), which Exchange derives
from a non-Outlook UID in the documented "vCal-Uid" form: collabd computes it from the UID
and asks FindItem for exactly that value. Nothing extra is stored in the ledger.

Attendees are matched by mail address, case-insensitively, as the invitation went out.
Answers: Accept → accepted, Decline → declined, Tentative → tentative; NoResponseReceived /
Unknown leave the ledger as it is. A proposed new time (Exchange 2013+: ProposedStart/End on
the attendee) is written to the attendee's comment and returned to the caller.

Exchange Online blocks EWS from October 2026 and switches it off in April 2027; on-premises
Exchange keeps it. iMIP stays the default calendar path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..mail.transport.ews import EwsAccount, EwsSender, _exchange_errors, failure
from ..store.models import AttendeeRole, Meeting, Rsvp
from .exchange_shared import (
    RsvpChange,
    agenda_html,
    apply_answers,
    read_attachment,
    sync_upcoming,
)

if TYPE_CHECKING:
    from ..app import App

RESPONSES = {"Accept": Rsvp.ACCEPTED, "Decline": Rsvp.DECLINED, "Tentative": Rsvp.TENTATIVE}


def clean_global_object_id(uid: str) -> bytes:
    """The CleanGlobalObjectId Exchange gives a meeting whose UID it did not make itself:
    the fixed class id, zero instance date and creation time, then "vCal-Uid", version 1
    and the UID as a NUL-terminated string (MS-OXOCAL 2.1.3.1.1.26)."""
    data = b"vCal-Uid" + (1).to_bytes(4, "little") + uid.encode("utf-8") + b"\x00"
    class_id = bytes.fromhex("040000008200E00074C5B7101A82E008")
    return class_id + bytes(4) + bytes(8) + bytes(8) + len(data).to_bytes(4, "little") + data


def _register_goid() -> str:
    """Teach exchangelib's CalendarItem the CleanGlobalObjectId extended property, once."""
    from exchangelib import CalendarItem, ExtendedProperty

    class CleanGlobalObjectId(ExtendedProperty):
        distinguished_property_set_id = "Meeting"
        property_id = 0x23
        property_type = "Binary"

    name = "clean_global_object_id"
    if name not in {f.name for f in CalendarItem.FIELDS}:
        CalendarItem.register(name, CleanGlobalObjectId)
    return name


def _account(app: App) -> EwsAccount:
    """The mail transport's Exchange account when mail goes through EWS too, else one of
    the calendar's own (same [mail.ews] settings)."""
    outgoing = app.transport.outgoing if app.settings.mail.backend == "ews" else None
    if isinstance(outgoing, EwsSender):
        return outgoing.account
    account = app.__dict__.get("_ews_calendar_account")
    if account is None:
        from ..mail.transport import ews_settings

        account = app.__dict__["_ews_calendar_account"] = EwsAccount(ews_settings(app.settings))
    return account


def find_item(app: App, meeting: Meeting) -> Any | None:
    """The organizer's CalendarItem for this meeting, with its attendees, or None."""
    goid = _register_goid()
    account = _account(app)
    try:
        calendar = account.get().calendar
        found = list(calendar.filter(**{goid: clean_global_object_id(meeting.uid)}))
        if not found:
            return None
        (item,) = account.get().fetch(ids=[found[0]])
    except _exchange_errors() as exc:
        raise failure(exc, f"looking up meeting {meeting.uid} in Exchange") from exc
    if isinstance(item, Exception):
        raise failure(item, f"reading meeting {meeting.uid} from Exchange")
    return item


# What collabd owns on the organizer's item; an update rewrites exactly these.
MEETING_FIELDS = (
    "subject",
    "start",
    "end",
    "location",
    "body",
    "required_attendees",
    "optional_attendees",
)


def _meeting_fields(meeting: Meeting) -> dict[str, Any]:
    from exchangelib import Attendee as ExchangeAttendee
    from exchangelib import EWSTimeZone, HTMLBody
    from exchangelib import Mailbox as ExchangeMailbox

    zone = EWSTimeZone.from_zoneinfo(ZoneInfo(meeting.timezone))
    start = meeting.starts_at.astimezone(zone)

    def attendees(*roles: AttendeeRole) -> list[Any]:
        return [
            ExchangeAttendee(
                mailbox=ExchangeMailbox(email_address=a.email), response_type="Unknown"
            )
            for a in meeting.attendees
            if a.role in roles
        ]

    return {
        "subject": meeting.title,
        "start": start,
        "end": start + timedelta(minutes=meeting.duration_minutes),
        "location": meeting.location or meeting.online_url or None,
        "body": HTMLBody(agenda_html(meeting)),
        "required_attendees": attendees(AttendeeRole.CHAIR, AttendeeRole.REQUIRED) or None,
        "optional_attendees": attendees(AttendeeRole.OPTIONAL) or None,
    }


def send_meeting(app: App, meeting: Meeting) -> str:
    """Create the meeting in the collabd mailbox's calendar and have Exchange invite every
    attendee; for a meeting already in Exchange, rewrite time, place, agenda and attendees
    and have Exchange send the update (Exchange raises the sequence number itself).
    Returns the Exchange item id. Raises TemporaryFailure (try again; nothing changed) or
    PermanentFailure."""
    from exchangelib import CalendarItem, FileAttachment
    from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

    existing = find_item(app, meeting)
    if existing is not None:
        return _update_meeting(meeting, existing)
    account = _account(app).get()
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        uid=meeting.uid,
        **_meeting_fields(meeting),
        attachments=[
            FileAttachment(
                name=file.filename,
                content=file.content
                if file.content is not None
                else read_attachment(app, file.path),
                content_type=file.content_type,
            )
            for file in meeting.attachments
        ],
    )
    try:
        item.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
    except _exchange_errors() as exc:
        raise failure(exc, f"creating meeting {meeting.uid} in Exchange") from exc
    return item.id


def _update_meeting(meeting: Meeting, item: Any) -> str:
    from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

    for name, value in _meeting_fields(meeting).items():
        setattr(item, name, value)
    try:
        # Attachments are not re-sent with an update: files added later go by mail.
        item.save(
            update_fields=list(MEETING_FIELDS), send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY
        )
    except _exchange_errors() as exc:
        raise failure(exc, f"updating meeting {meeting.uid} in Exchange") from exc
    return item.id


def cancel_meeting(app: App, meeting: Meeting) -> bool:
    """Delete the organizer's item with cancellations to every attendee (Exchange sends
    them). False if Exchange has no such meeting."""
    from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

    item = find_item(app, meeting)
    if item is None:
        return False
    try:
        item.delete(send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY)
    except _exchange_errors() as exc:
        raise failure(exc, f"cancelling meeting {meeting.uid} in Exchange") from exc
    return True


def sync_rsvps(app: App, meeting: Meeting) -> list[RsvpChange]:
    """Read the attendees' answers from the organizer's item into the ledger (Attendee.rsvp,
    rsvp_at, comment), each change recorded in the history. Runs inside the caller's
    transaction (the one `meeting` was loaded in); returns what changed."""
    item = find_item(app, meeting)
    if item is None:
        return []
    answers = {}
    for a in (item.required_attendees or []) + (item.optional_attendees or []):
        if not (a.mailbox and a.mailbox.email_address):
            continue
        proposed = None
        if a.proposed_start and a.proposed_end:
            proposed = (a.proposed_start, a.proposed_end)
        answers[a.mailbox.email_address] = (RESPONSES.get(a.response_type), proposed)
    return apply_answers(app, meeting, answers)


def sync_upcoming_rsvps(app: App, now: datetime) -> list[str]:
    """A tick job (rules/tick.py JOBS) for calendar.backend = "ews": read the answers to
    every scheduled meeting that has not ended yet, one transaction per meeting."""
    return sync_upcoming(app, now, "ews", sync_rsvps)
