"""Scheduling, changing and cancelling meetings collabd organizes; every change is recorded
in the history and its invitations are queued in the same transaction.

The notice rule (seed 000: 提前至少1天通知参与方) is `meetings.min_notice`: a meeting that
starts sooner is refused, naming the earliest allowed start, unless it is marked urgent
with a reason, which the history keeps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import parse_instant
from ..errors import DataError, NotFound, UsageError
from ..ledger.collaborations import find_collaboration
from ..ledger.history import Origin, record_on
from ..ledger.items import ensure_active
from ..ledger.people import find_person
from ..rules.workdays import WorkCalendar
from ..store.models import (
    AgendaItem,
    Attendee,
    AttendeeRole,
    Collaboration,
    Meeting,
    MeetingStatus,
    Person,
    Rsvp,
)
from .delivery import send_invitation
from .ended import has_ended
from .files import files_from_paths
from .specs import AgendaSpec, MeetingSpec, load_agenda

if TYPE_CHECKING:
    from ..app import App

AGENDA_LIMIT_MINUTES = 90  # seed 002: 总时长建议控制在90分钟内


class NoticeTooShort(DataError):
    """The meeting starts sooner than the notice rule allows."""


@dataclass
class Outcome:
    meeting: Meeting
    queued: int = 0
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


def find_meeting(session: Session, ref: str) -> Meeting:
    """A meeting by its number (`collabd meeting list`) or its iCalendar UID."""
    ref = ref.strip().lstrip("#")
    meeting = (
        session.get(Meeting, int(ref))
        if ref.isdigit()
        else session.scalar(select(Meeting).where(Meeting.uid == ref))
    )
    if meeting is None:
        raise NotFound(f"no meeting {ref!r} (see `collabd meeting list`)")
    return meeting


# --- the notice rule --------------------------------------------------------------------


def earliest_start(app: App, now: datetime) -> datetime:
    notice = app.settings.meetings.min_notice
    if notice.unit == "wd":  # working days on the Chinese statutory calendar
        zone = app.settings.tz
        local = now.astimezone(zone)
        day = WorkCalendar(zone).add_working_days(local.date(), int(notice.amount))
        return datetime.combine(day, local.time(), zone)
    if notice.unit == "wh":  # working hours: counted as wall-clock hours, the cautious side
        return now + timedelta(hours=notice.amount)
    return now + notice.as_timedelta()


def check_notice(app: App, start: datetime, urgent: bool, reason: str | None) -> None:
    now = app.clock.now()
    if start <= now:
        raise DataError(f"the start {_local(app, start)} is in the past (now {_local(app, now)})")
    if urgent:
        if not (reason or "").strip():
            raise UsageError('--urgent needs --reason "why the short notice" (it is recorded)')
        return
    earliest = earliest_start(app, now)
    if start < earliest:
        raise NoticeTooShort(
            f"the meeting starts {_local(app, start)}, less than meetings.min_notice = "
            f"{app.settings.meetings.min_notice} after now ({_local(app, now)}); "
            f"the earliest allowed start is {_local(app, earliest)}. "
            f'For an urgent meeting add --urgent --reason "…" (recorded in the history).'
        )


def _local(app: App, instant: datetime) -> str:
    return instant.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M")


# --- reading the spec -------------------------------------------------------------------


def person_for(session: Session, ref: str, collab: Collaboration | None, what: str) -> Person:
    try:
        return find_person(session, ref, collab)
    except (NotFound, DataError) as exc:
        raise type(exc)(f"{what} {ref!r}: {exc}") from None


def people_for(session: Session, refs: list[str], collab: Collaboration) -> list[Person]:
    people: dict[int, Person] = {}
    for ref in refs:
        person = person_for(session, ref, collab, "attendee")
        people.setdefault(person.id, person)
    return list(people.values())


def _agenda(session: Session, spec: MeetingSpec, collab: Collaboration) -> list[AgendaItem]:
    items: list[AgendaSpec] = (
        load_agenda(Path(spec.agenda)) if isinstance(spec.agenda, str) else list(spec.agenda or [])
    )
    return [
        AgendaItem(
            position=position,
            topic=item.topic,
            owner=person_for(session, item.owner, collab, f"agenda item {position} owner")
            if item.owner
            else None,
            minutes=item.minutes,
        )
        for position, item in enumerate(items, start=1)
    ]


def _warnings(meeting: Meeting) -> list[str]:
    warnings = []
    total = sum(item.minutes for item in meeting.agenda)
    if total > AGENDA_LIMIT_MINUTES:
        warnings.append(
            f"the agenda adds up to {total} minutes, over {AGENDA_LIMIT_MINUTES} "
            "(seed guide: 总时长建议控制在90分钟内)"
        )
    if total > meeting.duration_minutes:
        warnings.append(
            f"the agenda ({total} min) is longer than the meeting ({meeting.duration_minutes} min)"
        )
    return warnings


def _set_attendees(
    session: Session,
    meeting: Meeting,
    host: Person | None,
    recorder: Person | None,
    people: list[Person],
    coordinator: Person | None,
) -> None:
    """Host (CHAIR), recorder, attendees and the coordinator, each once. Known attendees keep
    their row (and answer); people no longer listed are removed."""
    wanted: dict[int, tuple[Person, AttendeeRole]] = {}
    for person, role in (
        (host, AttendeeRole.CHAIR),
        (recorder, AttendeeRole.REQUIRED),
        *((p, AttendeeRole.REQUIRED) for p in people),
        (coordinator, AttendeeRole.REQUIRED),
    ):
        if person is not None:
            wanted.setdefault(person.id, (person, role))
    current = {a.person_id: a for a in meeting.attendees}
    for attendee in list(meeting.attendees):
        if attendee.person_id not in wanted:
            meeting.attendees.remove(attendee)
    for person_id, (person, role) in wanted.items():
        if person_id in current:
            current[person_id].role = role
        else:
            meeting.attendees.append(Attendee(person=person, email=person.email, role=role))
    session.flush()


# --- operations -------------------------------------------------------------------------


def schedule(session: Session, app: App, spec: MeetingSpec, origin: Origin) -> Outcome:
    missing = [name for name in ("collab", "title", "start", "duration") if not getattr(spec, name)]
    if missing:
        raise UsageError("to schedule a meeting give " + ", ".join(f"--{m}" for m in missing))
    now = app.clock.now()
    start = parse_instant(spec.start, app.settings.tz)
    check_notice(app, start, spec.urgent, spec.reason)
    collab = find_collaboration(session, spec.collab)
    ensure_active(collab)
    host = person_for(session, spec.host, collab, "host") if spec.host else collab.coordinator
    recorder = person_for(session, spec.recorder, collab, "recorder") if spec.recorder else None
    people = people_for(session, spec.attendees or [], collab)
    meeting = Meeting(
        collaboration=collab,
        title=spec.title,
        starts_at=start,
        duration_minutes=spec.duration,
        timezone=app.settings.daemon.timezone,
        location=spec.location or "",
        online_url=spec.online_url or "",
        host=host,
        recorder=recorder,
        organizer_email=app.identity.address,
        uid=f"{uuid.uuid4()}@{app.identity.domain}",
        sequence=0,
        status=MeetingStatus.SCHEDULED,
        urgent_reason=spec.reason if spec.urgent else None,
        description="",
        created_at=now,
        updated_at=now,
    )
    session.add(meeting)
    meeting.agenda = _agenda(session, spec, collab)
    meeting.attachments = files_from_paths(app, spec.attachments or [])
    _set_attendees(session, meeting, host, recorder, people, collab.coordinator)
    _record(
        session, origin, now, meeting, "scheduled", new=f"{meeting.title} @ {_local(app, start)}"
    )
    if spec.urgent:
        _record(session, origin, now, meeting, "notice_waived", new=spec.reason, note=spec.reason)
    outcome = Outcome(meeting, warnings=_warnings(meeting))
    outcome.queued = send_invitation(
        session, app, meeting, "REQUEST", meeting.attendees, change="scheduled"
    )
    return outcome


def update(
    session: Session, app: App, meeting: Meeting, spec: MeetingSpec, origin: Origin
) -> Outcome:
    _only_own(app, meeting)
    now = app.clock.now()
    collab = meeting.collaboration
    outcome = Outcome(meeting)
    changes = outcome.changes
    changed: list[dict] = []  # for the mail: what it was, what it is now

    def change(name: str, old: object, new: object, shown: tuple | None = None) -> None:
        if old != new:
            changes.append(f"{name}: {old or '—'} → {new or '—'}")
            _record(session, origin, now, meeting, "changed", field=name, old=old, new=new)
            before, after = shown or (old, new)
            changed.append({"field": name, "old": before or "", "new": after or ""})

    moved = False
    if spec.start is not None:
        start = parse_instant(spec.start, app.settings.tz)
        if start != meeting.starts_at:
            check_notice(app, start, spec.urgent, spec.reason)
            change("start", _local(app, meeting.starts_at), _local(app, start))
            meeting.starts_at, moved = start, True
    if spec.duration is not None and spec.duration != meeting.duration_minutes:
        change("duration", meeting.duration_minutes, spec.duration)
        meeting.duration_minutes, moved = spec.duration, True
    for name in ("title", "location", "online_url"):
        value = getattr(spec, name)
        if value is not None and value != getattr(meeting, name):
            change(name, getattr(meeting, name), value)
            setattr(meeting, name, value)
    host, recorder = meeting.host, meeting.recorder
    if spec.host is not None:
        host = person_for(session, spec.host, collab, "host")
        change(
            "host",
            meeting.host.email if meeting.host else None,
            host.email,
            (meeting.host.name if meeting.host else "", host.name),
        )
        meeting.host = host
    if spec.recorder is not None:
        recorder = person_for(session, spec.recorder, collab, "recorder")
        change(
            "recorder",
            meeting.recorder.email if meeting.recorder else None,
            recorder.email,
            (meeting.recorder.name if meeting.recorder else "", recorder.name),
        )
        meeting.recorder = recorder
    before = {a.person_id: a for a in meeting.attendees}
    if spec.attendees is not None or spec.host is not None or spec.recorder is not None:
        if spec.attendees is not None:
            people = people_for(session, spec.attendees, collab)
        else:
            people = [a.person for a in meeting.attendees if a.person is not None]
        _set_attendees(session, meeting, host, recorder, people, collab.coordinator)
    after = {a.person_id for a in meeting.attendees}
    removed = [a for person_id, a in before.items() if person_id not in after]
    added = [a for a in meeting.attendees if a.person_id not in before]
    for attendee in added:
        name = attendee.person.name if attendee.person else attendee.email
        change("attendee_added", None, attendee.email, ("", name))
    for attendee in removed:
        name = attendee.person.name if attendee.person else attendee.email
        change("attendee_removed", attendee.email, None, (name, ""))
    if spec.agenda is not None:
        old = "; ".join(f"{i.topic} ({i.minutes})" for i in meeting.agenda)
        meeting.agenda = []
        session.flush()
        meeting.agenda = _agenda(session, spec, collab)
        change("agenda", old, "; ".join(f"{i.topic} ({i.minutes})" for i in meeting.agenda))
    if spec.attachments is not None:
        old = ", ".join(a.filename for a in meeting.attachments)
        meeting.attachments = files_from_paths(app, spec.attachments)
        change("attachments", old, ", ".join(a.filename for a in meeting.attachments))
    if spec.urgent and spec.reason:
        meeting.urgent_reason = spec.reason
        _record(session, origin, now, meeting, "notice_waived", new=spec.reason, note=spec.reason)
    if not changes:
        return outcome
    if moved and meeting.status is MeetingStatus.ENDED and not has_ended(meeting, now):
        meeting.status = MeetingStatus.SCHEDULED  # moved to a time still ahead: on again
    if moved:  # a new time needs a new answer from everyone (Outlook does the same)
        for attendee in meeting.attendees:
            attendee.rsvp, attendee.rsvp_at = Rsvp.NEEDS_ACTION, None
            attendee.proposed_start = attendee.proposed_end = None
    meeting.sequence += 1
    meeting.updated_at = now
    session.flush()
    outcome.warnings = _warnings(meeting)
    outcome.queued = send_invitation(
        session, app, meeting, "REQUEST", meeting.attendees, change="updated", changed=changed
    )
    if removed:
        outcome.queued += send_invitation(
            session, app, meeting, "CANCEL", removed, change="removed", listed=removed
        )
    return outcome


def cancel(
    session: Session,
    app: App,
    meeting: Meeting,
    origin: Origin,
    reason: str = "",
    *,
    with_collaboration: bool = False,
) -> Outcome:
    """`with_collaboration`: the collaboration itself is being cancelled (its record is
    closed already), and its meetings go with it."""
    _only_own(app, meeting, closing=with_collaboration)
    if meeting.status is MeetingStatus.CANCELLED:
        raise DataError(f"meeting {meeting.id} ({meeting.title}) is already cancelled")
    now = app.clock.now()
    meeting.status = MeetingStatus.CANCELLED
    meeting.sequence += 1
    meeting.updated_at = now
    if reason:
        meeting.description = reason
    _record(session, origin, now, meeting, "cancelled", new=reason or None, note=reason)
    outcome = Outcome(meeting, changes=["cancelled"])
    outcome.queued = send_invitation(
        session, app, meeting, "CANCEL", meeting.attendees, change="cancelled"
    )
    return outcome


def _only_own(app: App, meeting: Meeting, closing: bool = False) -> None:
    if not closing:
        ensure_active(meeting.collaboration)  # an archived record no longer changes
    if meeting.organizer_email != app.identity.address:
        raise DataError(
            f"meeting {meeting.id} was scheduled by {meeting.organizer_email} in their own "
            "calendar; only they can change it (collabd follows their updates)"
        )
    if meeting.status is MeetingStatus.CANCELLED:
        raise DataError(f"meeting {meeting.id} ({meeting.title}) is cancelled")


def _record(session: Session, origin: Origin, now: datetime, meeting: Meeting, action: str, **kw):
    record_on(session, origin, now, meeting, action=action, **kw)


def day_start(app: App, instant: datetime) -> datetime:
    local = instant.astimezone(app.settings.tz)
    return datetime.combine(local.date(), time(0), app.settings.tz)
