"""Recurring meetings scheduled in Outlook: one meeting per occurrence.

A coordinator who sets up a weekly sync in Outlook with the collabd mailbox invited sends one
REQUEST for the whole series: the master event with its RRULE and EXDATEs, and each changed
occurrence as another VEVENT naming it by RECURRENCE-ID. collabd registers every occurrence
of the next HORIZON (a year) as a meeting of its own, so each one gets its reminder, its
minutes request and its minutes. A series without an end is registered a year ahead; the
organizer's next update to it registers the year from then. Later mail from the organizer:

    REQUEST for the series       the occurrences are worked out again: changed ones
                                 updated, new ones added, coming ones no longer in it
                                 cancelled
    REQUEST for one occurrence   that occurrence changes (its RECURRENCE-ID names it)
    CANCEL for one occurrence    that occurrence is cancelled
    CANCEL for the series        every occurrence still to come is cancelled

Occurrences that have begun are never changed: their minutes may be on the way. The series
is answered with one REPLY ACCEPTED per version, like a single meeting.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from typing import TYPE_CHECKING

import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Collaboration, InboundStatus, Meeting, MeetingStatus, Person
from .files import attached_files
from .imip import CalendarMail, IncomingEvent, instant
from .incoming import (
    accept_meeting,
    apply_fields,
    ask_which_collaboration,
    calendar_fields,
    link_collaboration,
    mail_origin,
    may_not_schedule,
    outlook_meeting,
    record_change,
    registered,
    schedulable_collaborations,
    sync_attendees,
    unknown_organizer,
)
from .limits import over_limit, refuse

if TYPE_CHECKING:
    from ..app import App
    from ..ledger.history import Origin
    from ..mail.envelope import Envelope

Decision = tuple[InboundStatus, str]

HORIZON = timedelta(days=366)  # how far ahead occurrences are registered
MAX_OCCURRENCES = 400  # a daily meeting, every day of the year, still fits
MIN_SPACING = timedelta(days=1)  # with it, a year holds at most 366 occurrences


@dataclass(frozen=True)
class Occurrence:
    recurrence_id: datetime  # its original start (UTC): what names it for good
    start: datetime
    end: datetime
    summary: str
    location: str
    description: str
    url: str


def is_series(session: Session, calendar: CalendarMail) -> bool:
    """A recurring series, one of its occurrences, or a UID collabd knows as a series."""
    if any(event.recurs or event.recurrence_start for event in calendar.events):
        return True
    uid = calendar.events[0].uid
    return session.scalar(select(Meeting.id).where(Meeting.series_uid == uid).limit(1)) is not None


def occurrences(source: Calendar, uid: str, zone: tzinfo, now: datetime) -> list[Occurrence]:
    """The series' occurrences from now to HORIZON, exceptions and EXDATEs applied
    (recurring-ical-events does RFC 5545's expansion)."""
    found: list[Occurrence] = []
    # Lazily, in time order: a series is read up to HORIZON or MAX_OCCURRENCES, whichever
    # comes first, never expanded whole (`between` built every occurrence of the year).
    for component in recurring_ical_events.of(source).after(now):
        if len(found) >= MAX_OCCURRENCES:
            break
        if str(component.get("UID", "")) != uid:
            continue
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start = instant(component, "DTSTART", zone)
        if start is None:
            continue
        if start > now + HORIZON:
            break
        end = instant(component, "DTEND", zone) or start + timedelta(hours=1)
        found.append(
            Occurrence(
                recurrence_id=instant(component, "RECURRENCE-ID", zone) or start,
                start=start,
                end=end,
                summary=str(component.get("SUMMARY", "")).strip(),
                location=str(component.get("LOCATION", "")).strip(),
                description=str(component.get("DESCRIPTION", "")).strip(),
                url=str(component.get("URL", "")).strip(),
            )
        )
    return sorted(found, key=lambda o: o.start)[:MAX_OCCURRENCES]


def too_close(found: list[Occurrence]) -> str:
    """Why a series recurs more often than daily ("" when it does not). RRULE's FREQ is
    checked before (trust.py); this catches what RDATE lists and RRULE + RDATE combine to:
    one REQUEST with an RDATE every 10 minutes registered 400 meetings in 3 days."""
    for earlier, later in pairwise(found):
        if later.start - earlier.start < MIN_SPACING:
            return (
                f"occurrences {earlier.start:%Y-%m-%d %H:%M} and {later.start:%Y-%m-%d %H:%M} "
                "UTC are less than a day apart (RDATE/RRULE): collabd registers nothing "
                "recurring more than daily; refused"
            )
    return ""


def occurrence_uid(series_uid: str, recurrence_id: datetime) -> str:
    """The meeting's own UID: the series' and the occurrence's original start."""
    base = series_uid if len(series_uid) <= 230 else hashlib.sha256(series_uid.encode()).hexdigest()
    return f"{base}#{recurrence_id:%Y%m%dT%H%M%SZ}"


def handle_series(
    session: Session, app: App, envelope: Envelope, calendar: CalendarMail
) -> Decision:
    master = next((e for e in calendar.events if not e.recurrence_start), None)
    some = master or calendar.events[0]
    organizer_email = some.organizer.email if some.organizer else envelope.sender
    if organizer_email == app.identity.address:
        return InboundStatus.IGNORED, "a series organized by collabd itself: nothing to do"
    rows = list(session.scalars(select(Meeting).where(Meeting.series_uid == some.uid)))
    if not rows:
        rows = _adopt_single(session, some.uid)
    if rows and rows[0].organizer_email != organizer_email:
        return (
            InboundStatus.IGNORED,
            f"{calendar.method} for the series of meeting {rows[0].id} from {organizer_email}, "
            f"but it is organized by {rows[0].organizer_email}",
        )
    if calendar.method == "CANCEL":
        return _cancel(session, app, envelope, calendar, rows)
    organizer = session.scalar(select(Person).where(Person.email == organizer_email))
    if organizer is None:
        return unknown_organizer(f"series {some.summary!r}", organizer_email)
    if not rows and not schedulable_collaborations(session, organizer, app.settings.permissions):
        return may_not_schedule(organizer_email)
    if master is None:
        return _change_occurrences(session, app, envelope, calendar, rows)
    if rows and master.sequence is not None and master.sequence < max(r.sequence for r in rows):
        return InboundStatus.IGNORED, f"an older version ({master.sequence}) of a series"
    return _register(session, app, envelope, calendar, master, organizer, rows)


def _adopt_single(session: Session, uid: str) -> list[Meeting]:
    """A series registered as one meeting before collabd knew series (migration 0009): that
    meeting becomes the occurrence at its start, instead of a second meeting beside it."""
    single = session.scalar(select(Meeting).where(Meeting.uid == uid, Meeting.series_uid.is_(None)))
    if single is None:
        return []
    single.series_uid, single.recurrence_id = uid, single.starts_at
    single.uid = occurrence_uid(uid, single.starts_at)
    return [single]


def _register(
    session: Session,
    app: App,
    envelope: Envelope,
    calendar: CalendarMail,
    master: IncomingEvent,
    organizer: Person,
    rows: list[Meeting],
) -> Decision:
    now = app.clock.now()
    origin = mail_origin(session, envelope)
    wanted = occurrences(calendar.source, master.uid, app.settings.tz, now)
    if not wanted:
        return InboundStatus.IGNORED, f"series {master.summary!r} has no occurrence to come"
    crowded = too_close(wanted)
    if crowded:
        return InboundStatus.IGNORED, f"series {master.summary!r} from {organizer.email}: {crowded}"
    by_id = {row.recurrence_id: row for row in rows}
    collab = next((row.collaboration for row in rows if row.collaboration), None)
    linked_by = "the series' earlier occurrences"
    if collab is None:
        collab, linked_by = link_collaboration(
            session, [envelope.subject, master.summary], organizer, app.settings.permissions
        )
    adding = sum(occurrence.recurrence_id not in by_id for occurrence in wanted)
    broken = over_limit(session, app, organizer, collab, adding, new_series=not rows)
    if broken:
        return refuse(session, app, envelope, organizer, master.summary, master.uid, broken)
    files = attached_files(app, envelope)
    created, changed = [], []
    for occurrence in wanted:
        meeting = by_id.pop(occurrence.recurrence_id, None)
        if meeting is None:
            meeting = _new_occurrence(session, app, master, occurrence, organizer, collab, now)
            registered(
                session, app, origin, meeting, master,
                # The invitation's files go with the first occurrence, not into every one.
                files.kept if not created and not rows else [],
                f"{meeting.title} ({organizer.email}), an occurrence of a series",
                f"linked by {linked_by}" if collab else linked_by,
            )  # fmt: skip
            created.append(meeting)
        elif meeting.starts_at > now:  # one that has begun keeps what it was
            if _update(session, app, origin, meeting, occurrence):
                changed.append(meeting)
            meeting.sequence = max(meeting.sequence, master.sequence or 0)
            sync_attendees(session, app, meeting, master)
    gone = [
        r for r in by_id.values() if r.starts_at > now and r.status is not MeetingStatus.CANCELLED
    ]
    for meeting in gone:
        _cancel_one(session, app, origin, meeting, "no longer in the series")
    session.flush()
    first = (created or changed or [min(rows, key=lambda r: r.starts_at)])[0]
    accept_meeting(session, app, first, organizer, series=master.uid)
    why = (
        f"series {master.summary!r} from {organizer.email}: {len(created)} occurrence(s) "
        f"registered, {len(changed)} changed, {len(gone)} cancelled{files.note()}"
    )
    if collab is None:
        ask_which_collaboration(session, app, first, organizer)
        return InboundStatus.APPLIED, f"{why}; {linked_by}: asked which one"
    return InboundStatus.APPLIED, f"{why}; linked to {collab.code} by {linked_by}; accepted"


def _new_occurrence(
    session: Session,
    app: App,
    master: IncomingEvent,
    occurrence: Occurrence,
    organizer: Person,
    collab: Collaboration | None,
    now: datetime,
) -> Meeting:
    return outlook_meeting(
        session, app, organizer, collab, now,
        uid=occurrence_uid(master.uid, occurrence.recurrence_id),
        series_uid=master.uid,
        recurrence_id=occurrence.recurrence_id,
        sequence=master.sequence or 0,
        **_fields(occurrence, occurrence.summary or master.summary),
    )  # fmt: skip


def _fields(occurrence: Occurrence, title: str) -> dict[str, object]:
    return calendar_fields(
        title, occurrence.start, _minutes(occurrence), occurrence.location, occurrence.url,
        occurrence.description,
    )  # fmt: skip


def _minutes(occurrence: Occurrence) -> int:
    return max(1, int((occurrence.end - occurrence.start).total_seconds() // 60))


def _update(
    session: Session, app: App, origin: Origin, meeting: Meeting, occurrence: Occurrence
) -> bool:
    """Bring one coming occurrence in line with the organizer's calendar; True if it changed."""
    fields = _fields(occurrence, occurrence.summary or meeting.title)
    changed = bool(apply_fields(session, origin, app, meeting, fields))
    if meeting.status is MeetingStatus.CANCELLED:  # the organizer brought it back
        meeting.status = MeetingStatus.SCHEDULED
        record_change(session, origin, app, meeting, "rescheduled")
        changed = True
    if changed:
        meeting.updated_at = app.clock.now()
    return changed


def _change_occurrences(
    session: Session,
    app: App,
    envelope: Envelope,
    calendar: CalendarMail,
    rows: list[Meeting],
) -> Decision:
    """A REQUEST that carries only changed occurrences (Outlook: "this occurrence")."""
    if not rows:
        return InboundStatus.IGNORED, "an occurrence of a series collabd does not know"
    now, origin = app.clock.now(), mail_origin(session, envelope)
    by_id = {row.recurrence_id: row for row in rows}
    done = []
    for event in calendar.events:
        meeting = by_id.get(event.recurrence_start)
        if meeting is None or meeting.starts_at <= now or event.start is None:
            continue
        occurrence = Occurrence(
            event.recurrence_start,
            event.start,
            event.end or event.start + timedelta(minutes=meeting.duration_minutes),
            event.summary,
            event.location,
            event.description,
            event.url,
        )
        if event.status == "CANCELLED":
            _cancel_one(session, app, origin, meeting, event.comment)
            done.append(f"{meeting.id} cancelled")
        elif _update(session, app, origin, meeting, occurrence):
            meeting.sequence = max(meeting.sequence, event.sequence or 0)
            done.append(f"{meeting.id} changed")
    if not done:
        return (
            InboundStatus.IGNORED,
            "occurrence update: nothing to change in the occurrences to come",
        )
    return InboundStatus.APPLIED, "occurrence(s) of a series: meeting " + ", ".join(done)


def _cancel(
    session: Session,
    app: App,
    envelope: Envelope,
    calendar: CalendarMail,
    rows: list[Meeting],
) -> Decision:
    if not rows:
        return InboundStatus.IGNORED, f"CANCEL for series {calendar.events[0].uid}: not known"
    now, origin = app.clock.now(), mail_origin(session, envelope)
    coming = [r for r in rows if r.starts_at > now and r.status is not MeetingStatus.CANCELLED]
    named = {e.recurrence_start for e in calendar.events if e.recurrence_start}
    whole = any(not e.recurrence_start for e in calendar.events)
    targets = coming if whole else [r for r in coming if r.recurrence_id in named]
    comment = next((e.comment for e in calendar.events if e.comment), "")
    for meeting in targets:
        _cancel_one(session, app, origin, meeting, comment)
        meeting.sequence = max(meeting.sequence, max(e.sequence or 0 for e in calendar.events))
    if not targets:
        return InboundStatus.IGNORED, "CANCEL: no occurrence to come matches"
    what = "the series" if whole else "occurrence(s)"
    return InboundStatus.APPLIED, (
        f"{what} cancelled by the organizer: meeting " + ", ".join(str(m.id) for m in targets)
    )


def _cancel_one(session: Session, app: App, origin: Origin, meeting: Meeting, note: str) -> None:
    meeting.status = MeetingStatus.CANCELLED
    meeting.updated_at = app.clock.now()
    record_change(session, origin, app, meeting, "cancelled", note=note)
