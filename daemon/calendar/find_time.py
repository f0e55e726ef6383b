"""`collabd meeting find-time`: who would be invited, the window to look in, their free/busy
from the calendar, and the best slots (free_time.py ranks them).

The people are chosen as `meeting schedule` chooses them: the host (default: the
collaboration's coordinator) and the recorder are required, every --attendee (a person or a
participating department's contact) and the coordinator are invited. The window starts at
the later of --earliest and the notice rule's earliest start (meetings.min_notice) and
lasts --within (default 5 working days); working days and work hours are the rules
calendar's (rules/workdays.py), so a holiday has no slots and a make-up working day has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..clock import parse_instant
from ..durations import Duration
from ..errors import UsageError
from ..ledger.collaborations import find_collaboration
from ..rules.config import active_rules
from ..store.models import Person
from .availability import free_busy
from .free_time import Invitee, Slot, candidate_starts, rank_slots
from .scheduling import earliest_start, people_for, person_for

if TYPE_CHECKING:
    from ..app import App

STEP = timedelta(minutes=30)
DEFAULT_WITHIN = Duration(5, "wd")


@dataclass(frozen=True)
class FindTimeRequest:
    collab: str
    duration: int  # minutes
    attendees: tuple[str, ...] = ()
    host: str | None = None
    recorder: str | None = None
    within: Duration = DEFAULT_WITHIN
    earliest: str | None = None  # ISO 8601; without an offset, in the configured zone


@dataclass
class FindTimeResult:
    invitees: list[Invitee]
    window: tuple[datetime, datetime]
    slots: list[Slot]  # every candidate, best first
    notice_start: datetime  # the notice rule's earliest start, for the explanation


def invitees(session: Session, request: FindTimeRequest) -> list[Invitee]:
    collab = find_collaboration(session, request.collab)
    host = person_for(session, request.host, collab, "host") if request.host else None
    host = host or collab.coordinator
    recorder = (
        person_for(session, request.recorder, collab, "recorder") if request.recorder else None
    )
    required: list[Person] = [p for p in (host, recorder) if p is not None]
    others = [*people_for(session, list(request.attendees), collab), collab.coordinator]
    chosen: dict[int, Invitee] = {}
    for person in required:
        chosen.setdefault(person.id, Invitee(person.email, person.name, True))
    for person in others:
        if person is not None:
            chosen.setdefault(person.id, Invitee(person.email, person.name, False))
    return list(chosen.values())


def find_time(session: Session, app: App, request: FindTimeRequest) -> FindTimeResult:
    if request.duration <= 0:
        raise UsageError("--duration is the meeting's length in minutes, e.g. --duration 60")
    calendar = active_rules(app).calendar
    now = app.clock.now()
    notice = earliest_start(app, now)
    start = notice
    if request.earliest:
        start = max(parse_instant(request.earliest, app.settings.tz), notice)
    start = _round_up(start, STEP)
    until = calendar.add(start, request.within)
    people = invitees(session, request)
    duration = timedelta(minutes=request.duration)
    starts = list(candidate_starts(calendar, start, until, duration, STEP))
    busy = free_busy(app, [p.email for p in people], start, until) if starts else {}
    return FindTimeResult(
        people, (start, until), rank_slots(people, busy, starts, duration), notice
    )


def _round_up(instant: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    epoch = instant.timestamp()
    rounded = -(-epoch // seconds) * seconds
    return datetime.fromtimestamp(rounded, instant.tzinfo)
