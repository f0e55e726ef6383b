"""Meetings as events in the collabd mailbox's Exchange Online calendar, through Microsoft
Graph (`calendar.backend = "graph"`); the Graph counterpart of calendar/ews.py.

Instead of mailing an iCalendar invitation, collabd writes the meeting as an event with
attendees in its own calendar and Exchange sends the invitations, updates and
cancellations; Exchange then keeps the organizer's event up to date as attendees answer,
so RSVPs are read back from that event (`sync_rsvps`).

Which event is ours: Graph does not let a client choose an event's iCalendar UID, so the
event carries collabd's meeting UID in a single-value extended property of its own (a named
string property in collabd's property set) and is found again by filtering on it. The
meeting UID is also the event's `transactionId`, so a create retried after a lost answer
returns the first event instead of a second one. The attendees' answer mails carry
Exchange's UID (the event's `iCalUId`): graph_route.py maps it back through the same
property. Nothing extra is stored in the ledger.

Files: an event is created without attendees, its files are attached, and only then are
the attendees written, so the invitations Exchange sends carry the files. A crash in
between leaves an event nobody was invited to; the next try finds it, attaches what is
missing and invites. Graph takes a file of at most 3 MB this way.

Times are sent in UTC (Outlook shows every attendee their own time zone); answers are read
with `Prefer: outlook.timezone="UTC"`.

Tested against tests/graph_server.py: a loopback HTTPS fixture answering with bodies shaped
like Microsoft's documented Graph responses, not a live Microsoft 365 tenant.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..mail.transport.base import PermanentFailure
from ..mail.transport.graph import GraphAccount, GraphSender, odata_string, upload_attachment
from ..mail.transport.graph_http import INLINE_FILE_LIMIT
from ..store.models import AttendeeRole, Meeting, Rsvp
from .exchange_shared import RsvpChange, agenda_html, apply_answers, read_attachment, sync_upcoming

if TYPE_CHECKING:
    from ..app import App

# collabd's own property set: the meeting UID on the event (a named string property).
UID_PROPERTY = "String {6f1c6c2e-5b1a-4c36-9d1e-0c0ab1d1ab1e} Name collabdMeetingUid"
RESPONSES = {
    "accepted": Rsvp.ACCEPTED,
    "declined": Rsvp.DECLINED,
    "tentativelyAccepted": Rsvp.TENTATIVE,
}
ATTACHMENT_LIMIT = 150 * 1024 * 1024  # Graph's limit for a file, even by upload session
UTC_PREFERENCE = {"Prefer": 'outlook.timezone="UTC"'}


def account(app: App) -> GraphAccount:
    """The mail transport's Graph account when mail goes through Graph too, else one of the
    calendar's own (same [mail.graph] settings)."""
    outgoing = app.transport.outgoing if app.settings.mail.backend == "graph" else None
    if isinstance(outgoing, GraphSender):
        return outgoing.account
    own = app.__dict__.get("_graph_calendar_account")
    if own is None:
        from ..mail.transport import graph_account

        own = app.__dict__["_graph_calendar_account"] = graph_account(app.settings, app.db)
    return own


def _events(graph: GraphAccount) -> str:
    return f"{graph.user_path}/events"


def find_event(app: App, meeting: Meeting) -> dict | None:
    """The organizer's event for this meeting, with its attendees, or None."""
    graph = account(app)
    flt = (
        f"singleValueExtendedProperties/Any(ep: ep/id eq {odata_string(UID_PROPERTY)} "
        f"and ep/value eq {odata_string(meeting.uid)})"
    )
    found = graph.client.json(
        "GET",
        f"{_events(graph)}?$filter={quote(flt)}&$select=id,subject,attendees,isCancelled",
        headers=UTC_PREFERENCE,
        doing=f"looking up meeting {meeting.uid} in the Graph calendar",
    ).get("value", [])
    return found[0] if found else None


def meeting_uid_for(app: App, ical_uid: str) -> str | None:
    """The collabd meeting UID of the event Exchange knows by `ical_uid` (the UID in an
    attendee's answer), or None if that event is not collabd's."""
    graph = account(app)
    expand = f"singleValueExtendedProperties($filter=id eq {odata_string(UID_PROPERTY)})"
    found = graph.client.json(
        "GET",
        f"{_events(graph)}?$filter={quote('iCalUId eq ' + odata_string(ical_uid))}"
        f"&$select=id&$expand={quote(expand)}",
        doing=f"looking up the event {ical_uid} in the Graph calendar",
    ).get("value", [])
    for event in found:
        for prop in event.get("singleValueExtendedProperties", []):
            if prop.get("id", "").lower() == UID_PROPERTY.lower():
                return prop.get("value")
    return None


def _when(instant: datetime) -> dict[str, str]:
    return {"dateTime": instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _attendees(meeting: Meeting) -> list[dict]:
    kind = {AttendeeRole.CHAIR: "required", AttendeeRole.REQUIRED: "required"}
    return [
        {
            "emailAddress": {"address": a.email, "name": a.person.name if a.person else a.email},
            "type": kind.get(a.role, "optional"),
        }
        for a in meeting.attendees
    ]


def _event_fields(meeting: Meeting) -> dict[str, Any]:
    """What collabd owns on the organizer's event; an update rewrites exactly these."""
    return {
        "subject": meeting.title,
        "body": {"contentType": "HTML", "content": agenda_html(meeting)},
        "start": _when(meeting.starts_at),
        "end": _when(meeting.starts_at + timedelta(minutes=meeting.duration_minutes)),
        "location": {"displayName": meeting.location or meeting.online_url or ""},
        "attendees": _attendees(meeting),
    }


def send_meeting(app: App, meeting: Meeting) -> str:
    """Create the meeting in the collabd mailbox's calendar with its files and have Exchange
    invite every attendee; for a meeting already there, rewrite time, place, agenda and
    attendees and have Exchange send the update (and cancellations to anyone taken off).
    Returns the event id. Raises TemporaryFailure (try again) or PermanentFailure."""
    graph = account(app)
    files = [_file(app, f) for f in meeting.attachments]
    event = find_event(app, meeting)
    if event is None:
        body = {
            **_event_fields(meeting),
            "attendees": [],  # invited once the files are on the event (see the docstring)
            "allowNewTimeProposals": True,
            "transactionId": meeting.uid,
            "singleValueExtendedProperties": [{"id": UID_PROPERTY, "value": meeting.uid}],
        }
        event = graph.client.json(
            "POST",
            f"{graph.user_path}/calendar/events",
            json=body,
            doing=f"creating meeting {meeting.uid} in the Graph calendar",
        )
    event_path = f"{_events(graph)}/{quote(event['id'], safe='')}"
    _attach_missing(graph, event_path, files, meeting.uid)
    graph.client.json(
        "PATCH",
        event_path,
        json=_event_fields(meeting),
        doing=f"writing meeting {meeting.uid} to the Graph calendar",
    )
    return event["id"]


def _file(app: App, attachment) -> tuple[str, str, bytes]:
    content = (
        attachment.content
        if attachment.content is not None
        else read_attachment(app, attachment.path)
    )
    if len(content) > ATTACHMENT_LIMIT:
        raise PermanentFailure(
            f"meeting file {attachment.filename} is {len(content) / 1048576:.1f} MB; through "
            "Graph a file on an invitation may be at most 150 MB: share a link in the agenda"
        )
    return attachment.filename, attachment.content_type, content


def _attach_missing(
    graph: GraphAccount, event_path: str, files: list[tuple[str, str, bytes]], uid: str
) -> None:
    """Attach the files the event does not have yet (by name)."""
    if not files:
        return
    present = {
        a.get("name")
        for a in graph.client.json(
            "GET",
            f"{event_path}/attachments?$select=name",
            doing=f"reading the files of meeting {uid}",
        ).get("value", [])
    }
    for name, content_type, content in files:
        if name in present:
            continue
        if len(content) > INLINE_FILE_LIMIT:  # Graph takes it only through an upload session
            upload_attachment(graph, event_path, name, content_type, content, f"meeting {uid}")
            continue
        graph.client.json(
            "POST",
            f"{event_path}/attachments",
            json={
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": name,
                "contentType": content_type,
                "contentBytes": base64.b64encode(content).decode(),
            },
            doing=f"attaching {name} to meeting {uid}",
        )


def cancel_meeting(app: App, meeting: Meeting) -> bool:
    """Cancel the organizer's event; Exchange sends the cancellations. False if the
    calendar has no such meeting."""
    event = find_event(app, meeting)
    if event is None:
        return False
    graph = account(app)
    graph.client.request(
        "POST",
        f"{_events(graph)}/{quote(event['id'], safe='')}/cancel",
        json={"comment": meeting.description or ""},
        doing=f"cancelling meeting {meeting.uid} in the Graph calendar",
    )
    return True


def sync_rsvps(app: App, meeting: Meeting) -> list[RsvpChange]:
    """Read the attendees' answers from the organizer's event into the ledger; returns what
    changed (see exchange_shared.apply_answers)."""
    event = find_event(app, meeting)
    if event is None:
        return []
    answers = {}
    for attendee in event.get("attendees", []):
        address = (attendee.get("emailAddress") or {}).get("address")
        if not address:
            continue
        response = (attendee.get("status") or {}).get("response", "none")
        answers[address] = (RESPONSES.get(response), _proposed(attendee))
    return apply_answers(app, meeting, answers)


def _proposed(attendee: dict) -> tuple[datetime, datetime] | None:
    proposal = attendee.get("proposedNewTime")
    if not proposal:
        return None
    return _utc(proposal["start"]), _utc(proposal["end"])


def _utc(value: dict) -> datetime:
    """A dateTimeTimeZone read with Prefer: outlook.timezone="UTC" (7 fractional digits)."""
    return datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=UTC)


def sync_upcoming_rsvps(app: App, now: datetime) -> list[str]:
    """A tick job (rules/tick.py JOBS) for calendar.backend = "graph"."""
    return sync_upcoming(app, now, "graph", sync_rsvps)
