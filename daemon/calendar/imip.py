"""Reading incoming calendar mail (iMIP): what the text/calendar part says, defensively.

Clients disagree on almost everything, so only what RFC 5546 makes essential is required:
a METHOD and, per event, a UID. ORGANIZER, SEQUENCE and DTSTAMP are read when present and
never required (Outlook's REPLY has no ORGANIZER). The answer is read from PARTSTAT, never
from the subject, which every client words in its own language ("接受:", "Accepted:").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from email.message import Message

from icalendar import Calendar

CALENDAR_TYPES = ("text/calendar", "application/ics")
MAX_ATTENDEES = 500  # per event; calendar/trust.py refuses more
# An invitation's body (DESCRIPTION) kept in the ledger: an 80,000-line one became a
# 1.6-million-character row, in every backup (outside attack F9).
MAX_DESCRIPTION_CHARS = 20_000


class CalendarError(ValueError):
    """The calendar part cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class CalendarPerson:
    email: str  # lower-case, without mailto:
    name: str = ""
    partstat: str = ""  # upper-case PARTSTAT, "" when absent
    role: str = ""
    sent_by: str = ""  # SENT-BY: the delegate who sent it on this person's behalf (Outlook)


@dataclass(frozen=True)
class IncomingEvent:
    uid: str
    sequence: int | None
    summary: str = ""
    start: datetime | None = None  # aware, UTC
    end: datetime | None = None
    location: str = ""
    description: str = ""
    url: str = ""
    comment: str = ""
    status: str = ""
    organizer: CalendarPerson | None = None
    attendees: tuple[CalendarPerson, ...] = ()
    recurrence_id: str = ""
    recurrence_start: datetime | None = None  # RECURRENCE-ID as an instant (UTC)
    recurs: bool = False  # RRULE or RDATE: the master event of a recurring series


@dataclass(frozen=True)
class CalendarMail:
    method: str  # REQUEST, REPLY, CANCEL, COUNTER, …
    events: tuple[IncomingEvent, ...] = field(default_factory=tuple)
    # The parsed object, for expanding a recurring series (calendar/series.py).
    source: Calendar | None = field(default=None, compare=False, repr=False)


def calendar_part(message: Message) -> Message | None:
    """The first text/calendar part (the iMIP body, not a copy attached as a file, wins)."""
    attached = None
    for part in message.walk():
        if part.get_content_type() not in CALENDAR_TYPES:
            continue
        if "attachment" not in str(part.get("Content-Disposition", "")).lower():
            return part
        attached = attached or part
    return attached


def email_of(value: object) -> str:
    text = str(value or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip().lower()


def _person(value: object) -> CalendarPerson:
    params = getattr(value, "params", {})
    return CalendarPerson(
        email=email_of(value),
        name=str(params.get("CN", "")).strip().strip('"'),
        partstat=str(params.get("PARTSTAT", "")).strip().upper(),
        role=str(params.get("ROLE", "")).strip().upper(),
        sent_by=email_of(str(params.get("SENT-BY", "")).strip().strip('"')),
    )


def instant(component, name: str, zone: tzinfo) -> datetime | None:
    prop = component.get(name)
    if prop is None:
        return None
    value = prop.dt
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating time: the configured zone is the best guess
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    if isinstance(value, date):  # all-day
        return datetime.combine(value, time(0), zone).astimezone(UTC)
    return None


def _text(component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0]
    return str(value).strip()


def read_calendar(message: Message, zone: tzinfo) -> CalendarMail | None:
    """The calendar object in a mail, or None if it has none. Raises CalendarError."""
    part = calendar_part(message)
    if part is None:
        return None
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:
        text = payload.decode("utf-8", errors="replace")
    crowded = _crowded_event(text)
    if crowded:
        raise CalendarError(f"{crowded} attendees in one event (at most {MAX_ATTENDEES})")
    try:
        calendar = Calendar.from_ical(text)
    except Exception as exc:  # icalendar raises ValueError and friends on broken input
        raise CalendarError(f"the text/calendar part is not iCalendar: {exc}") from None
    method = str(calendar.get("METHOD", "") or part.get_param("method") or "").strip().upper()
    if not method:
        raise CalendarError("the calendar object has no METHOD: it is a file, not an iMIP mail")
    events = []
    for component in calendar.walk("VEVENT"):
        try:
            events.append(_event(component, zone))
        except CalendarError:
            raise
        except Exception as exc:
            # A duplicate SEQUENCE (a list, TypeError), a bad EXDATE (icalendar's
            # BrokenCalendarProperty) …: the mail's fault, refused at once as unreadable
            # rather than crashing the handler three times before quarantine.
            raise CalendarError(f"a VEVENT is not valid iCalendar: {exc!r}"[:300]) from None
    return CalendarMail(method, tuple(events), calendar)


def _crowded_event(text: str) -> int:
    """More ATTENDEE lines in one VEVENT than collabd takes, counted before parsing (0 when
    none has): 100,000 attendees cost 20 s of icalendar parsing before the count refused
    them (outside attack F9). A scan with str.count, stopped at the first crowded event."""
    upper = text.upper()
    for chunk in upper.split("BEGIN:VEVENT")[1:]:
        count = chunk.count("\nATTENDEE")
        if count > MAX_ATTENDEES:
            return count
    return 0


def _event(component, zone: tzinfo) -> IncomingEvent:
    """One VEVENT read whole: every date property is read here, so a broken one fails now."""
    uid = _text(component, "UID")
    if not uid:
        raise CalendarError("a VEVENT has no UID")
    for name in ("EXDATE", "RDATE"):
        for value in _as_list(component.get(name)):
            _ = [d.dt for d in getattr(value, "dts", [value])]
    sequence = component.get("SEQUENCE")
    attendees = component.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    organizer = component.get("ORGANIZER")
    try:
        start = instant(component, "DTSTART", zone)
        end = instant(component, "DTEND", zone)
        recurrence_start = instant(component, "RECURRENCE-ID", zone)
    except Exception as exc:
        raise CalendarError(f"event {uid}: unreadable DTSTART/DTEND: {exc}") from None
    if start is not None and end is None and component.get("DURATION") is not None:
        end = start + component.get("DURATION").dt
    return IncomingEvent(
        uid=uid,
        sequence=int(sequence) if sequence is not None else None,
        summary=_text(component, "SUMMARY"),
        start=start,
        end=end,
        location=_text(component, "LOCATION"),
        description=_text(component, "DESCRIPTION")[:MAX_DESCRIPTION_CHARS],
        url=_text(component, "URL"),
        comment=_text(component, "COMMENT"),
        status=_text(component, "STATUS").upper(),
        organizer=_person(organizer) if organizer is not None else None,
        attendees=tuple(_person(a) for a in attendees),
        recurrence_id=_text(component, "RECURRENCE-ID"),
        recurrence_start=recurrence_start,
        recurs=component.get("RRULE") is not None or component.get("RDATE") is not None,
    )


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
