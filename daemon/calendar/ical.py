"""Building the iCalendar objects collabd sends (RFC 5545 objects, RFC 5546 methods).

Outlook first: every TZID has its VTIMEZONE in the same object, the ORGANIZER is the
address the mail comes From (Outlook refuses to track answers otherwise), each person is
one ATTENDEE with CN, ROLE, PARTSTAT and RSVP, and the UID never changes while SEQUENCE
grows by one per change. The icalendar library writes UTF-8 and folds lines at 75 octets
without splitting a Chinese character.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from .. import __version__
from ..store.models import AttendeeRole, Meeting, Rsvp
from .timezones import vtimezone

PRODID = f"-//collabd//collabd {__version__}//EN"
ROLES = {
    AttendeeRole.CHAIR: "CHAIR",
    AttendeeRole.REQUIRED: "REQ-PARTICIPANT",
    AttendeeRole.OPTIONAL: "OPT-PARTICIPANT",
}
PARTSTATS = {
    Rsvp.NEEDS_ACTION: "NEEDS-ACTION",
    Rsvp.ACCEPTED: "ACCEPTED",
    Rsvp.DECLINED: "DECLINED",
    Rsvp.TENTATIVE: "TENTATIVE",
    Rsvp.DELEGATED: "DELEGATED",
}


def address(email: str, name: str = "", **params: str) -> vCalAddress:
    value = vCalAddress(f"mailto:{email}")
    if name:
        value.params["CN"] = vText(name)
    for key, param in params.items():
        value.params[key.replace("_", "-").upper()] = param
    return value


def agenda_text(meeting: Meeting) -> str:
    """The agenda as plain text: DESCRIPTION, read by every client."""
    lines = []
    if meeting.agenda:
        lines.append("议程 Agenda:")
        for item in meeting.agenda:
            details = ", ".join(
                part
                for part in (item.owner.name if item.owner else "", f"{item.minutes} min")
                if part and part != "0 min"
            )
            lines.append(f"{item.position}. {item.topic}" + (f" ({details})" if details else ""))
    if meeting.online_url:
        lines += ["", f"线上会议 Online: {meeting.online_url}"]
    if meeting.description:
        lines += ["", meeting.description]
    return "\n".join(lines).strip()


def _calendar(method: str) -> Calendar:
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    return calendar


def _event(meeting: Meeting, now: datetime) -> tuple[Event, datetime]:
    zone = ZoneInfo(meeting.timezone)
    start = meeting.starts_at.astimezone(zone)
    event = Event()
    event.add("UID", meeting.uid)
    event.add("SEQUENCE", meeting.sequence)
    event.add("DTSTAMP", now.astimezone(UTC))
    event.add("DTSTART", start)
    event.add("DTEND", start + timedelta(minutes=meeting.duration_minutes))
    event.add("SUMMARY", meeting.title)
    if meeting.location:
        event.add("LOCATION", meeting.location)
    elif meeting.online_url:
        event.add("LOCATION", meeting.online_url)
    description = agenda_text(meeting)
    if description:
        event.add("DESCRIPTION", description)
    if meeting.online_url:
        event.add("URL", meeting.online_url)
    return event, start


def organizer_request(
    meeting: Meeting,
    method: str,
    *,
    organizer_name: str,
    organizer_email: str,
    now: datetime,
    attendees: Sequence | None = None,
) -> bytes:
    """REQUEST (a new or changed meeting) or CANCEL, as the organizer sends it.

    `attendees` narrows a CANCEL to the people removed from the meeting."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"an organizer sends REQUEST or CANCEL, not {method}")
    calendar = _calendar(method)
    event, start = _event(meeting, now)
    event.add("ORGANIZER", address(organizer_email, organizer_name))
    for attendee in meeting.attendees if attendees is None else attendees:
        name = attendee.person.name if attendee.person else ""
        event.add(
            "ATTENDEE",
            address(
                attendee.email,
                name,
                cutype="INDIVIDUAL",
                role=ROLES[attendee.role],
                # The answer the ledger holds: an update that keeps the time keeps everyone's
                # answer (as Outlook does); a new time has reset them to NEEDS-ACTION.
                partstat=PARTSTATS[attendee.rsvp],
                rsvp="TRUE"
                if method == "REQUEST" and attendee.rsvp is Rsvp.NEEDS_ACTION
                else "FALSE",
            ),
        )
    event.add("STATUS", "CONFIRMED" if method == "REQUEST" else "CANCELLED")
    event.add("TRANSP", "OPAQUE")
    event.add("CLASS", "PUBLIC")
    # RFC 5545 PRIORITY: 1 is the highest, 5 normal. An urgent meeting says so.
    event.add("PRIORITY", 1 if meeting.urgent_reason else 5)
    if method == "REQUEST":
        # Outlook shows it as busy time, and as a meeting, not an appointment.
        event.add("X-MICROSOFT-CDO-BUSYSTATUS", "BUSY")
        event.add("X-MICROSOFT-CDO-INTENDEDSTATUS", "BUSY")
    calendar.add_component(vtimezone(meeting.timezone, start))
    calendar.add_component(event)
    return calendar.to_ical()


def attendee_reply(
    meeting: Meeting,
    *,
    attendee_email: str,
    attendee_name: str,
    partstat: str,
    now: datetime,
    uid: str | None = None,
) -> bytes:
    """REPLY as an attendee: collabd answering a meeting scheduled in Outlook. `uid`: the
    series' UID when the answer is for a whole recurring series (one of its occurrences
    gives the rest)."""
    calendar = _calendar("REPLY")
    event, start = _event(meeting, now)
    if uid is not None:
        event["UID"] = vText(uid)
    event.add("ORGANIZER", address(meeting.organizer_email))
    event.add("ATTENDEE", address(attendee_email, attendee_name, partstat=partstat))
    calendar.add_component(vtimezone(meeting.timezone, start))
    calendar.add_component(event)
    return calendar.to_ical()
