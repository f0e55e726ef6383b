"""Finding a time for a meeting (seed 002: 协调各部门可用时间，优先选择多数人方便的时段):
candidate slots inside working time, ranked by who can come.

Pure: the busy times come from the calendar (calendar/availability.py), the working days
and hours from the rules calendar (rules/workdays.py). A slot lies inside one work period
of a working day (a meeting does not straddle lunch, a weekend or a holiday; a make-up
working day counts), starts on a `step` boundary of its period and at or after `earliest`
(the notice rule), and ends by `until`.

Ranking, best first: fewer required people (host and recorder) who cannot come, then fewer
people of any kind who cannot come, then fewer who are only tentatively busy, then the
earlier slot. "Cannot come": busy or out of office. Tentative is shown but weighs less;
"working elsewhere" is free (they can join online). A person whose free/busy could not be
read is listed as unknown and counted as neither.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..rules.workdays import WorkCalendar

HARD = frozenset({"busy", "oof"})  # they cannot come
SOFT = frozenset({"tentative"})  # they might


@dataclass(frozen=True)
class Busy:
    start: datetime
    end: datetime
    status: str  # busy | oof | tentative (free and working elsewhere are left out)


@dataclass(frozen=True)
class Invitee:
    email: str
    name: str
    required: bool  # host and recorder: the meeting is pointless without them


@dataclass
class Slot:
    start: datetime
    end: datetime
    free: list[Invitee] = field(default_factory=list)
    busy: list[tuple[Invitee, str]] = field(default_factory=list)  # (who, busy|oof|tentative)
    unknown: list[Invitee] = field(default_factory=list)

    @property
    def required_missing(self) -> int:
        return sum(1 for who, status in self.busy if who.required and status in HARD)

    @property
    def missing(self) -> int:
        return sum(1 for _, status in self.busy if status in HARD)

    @property
    def tentative(self) -> int:
        return sum(1 for _, status in self.busy if status in SOFT)

    def rank_key(self) -> tuple:
        return (self.required_missing, self.missing, self.tentative, self.start)


def candidate_starts(
    calendar: WorkCalendar,
    earliest: datetime,
    until: datetime,
    duration: timedelta,
    step: timedelta = timedelta(minutes=30),
) -> Iterator[datetime]:
    """Every start on a step boundary of a work period such that the whole meeting fits in
    that period, on working days, from `earliest` to `until`."""
    zone = calendar.timezone
    day = earliest.astimezone(zone).date()
    last: date = until.astimezone(zone).date()
    while day <= last:
        if calendar.is_working_day(day):
            for period_start, period_end in calendar.work_hours:
                start = datetime.combine(day, period_start, zone)
                stop = datetime.combine(day, period_end, zone)
                while start + duration <= stop:
                    if start >= earliest and start + duration <= until:
                        yield start
                    start += step
        day += timedelta(days=1)


def rank_slots(
    invitees: Sequence[Invitee],
    busy: Mapping[str, Sequence[Busy] | None],
    starts: Sequence[datetime] | Iterator[datetime],
    duration: timedelta,
) -> list[Slot]:
    """Every candidate with who can come, best first. `busy[email]` is None when that
    person's free/busy could not be read."""
    slots = []
    for start in starts:
        end = start + duration
        slot = Slot(start, end)
        for who in invitees:
            times = busy.get(who.email.lower())
            if times is None:
                slot.unknown.append(who)
                continue
            clash = _worst(b.status for b in times if b.start < end and b.end > start)
            if clash:
                slot.busy.append((who, clash))
            else:
                slot.free.append(who)
        slots.append(slot)
    return sorted(slots, key=Slot.rank_key)


def _worst(statuses) -> str:
    found = set(statuses)
    for status in ("oof", "busy", "tentative"):
        if status in found:
            return status
    return ""
