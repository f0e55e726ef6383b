"""A recurring progress meeting scheduled from the command line (seed 001: 每周五下午召开
进度会): `meeting schedule --repeat weekly --until DATE` becomes one meeting per week, each
its own invitation and, after it, its own minutes request; a week whose day is a statutory
holiday or rest day is skipped (and said), not moved.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..clock import parse_instant
from ..errors import UsageError
from ..rules.workdays import WorkCalendar
from .scheduling import Outcome, schedule

if TYPE_CHECKING:
    from ..app import App
    from ..ledger.history import Origin
    from .specs import MeetingSpec

STEPS = {"weekly": timedelta(weeks=1)}
MAX_OCCURRENCES = 60  # a bit more than a year of weeks: a series, not a calendar dump


def occurrences(
    app: App, first: datetime, repeat: str, until: date
) -> tuple[list[datetime], list[datetime]]:
    """(the starts to hold, the starts skipped because their day is not a working day)."""
    zone = app.settings.tz
    calendar = WorkCalendar(zone)
    held: list[datetime] = []
    skipped: list[datetime] = []
    start = first
    while start.astimezone(zone).date() <= until:
        (held if calendar.is_working_day(start.astimezone(zone).date()) else skipped).append(start)
        if len(held) + len(skipped) > MAX_OCCURRENCES:
            raise UsageError(
                f"--until {until.isoformat()} makes more than {MAX_OCCURRENCES} meetings; "
                "schedule a shorter series"
            )
        local = start.astimezone(zone).replace(tzinfo=None) + STEPS[repeat]
        start = local.replace(tzinfo=zone)  # the same wall-clock time, also across DST
    return held, skipped


def schedule_series(
    session: Session, app: App, spec: MeetingSpec, repeat: str, until: date, origin: Origin
) -> tuple[list[Outcome], list[datetime]]:
    if not spec.start:
        raise UsageError("--repeat needs --start (the first meeting)")
    first = parse_instant(spec.start, app.settings.tz)
    held, skipped = occurrences(app, first, repeat, until)
    if not held:
        raise UsageError(f"no working day between {spec.start} and {until.isoformat()}")
    outcomes = [
        schedule(session, app, spec.model_copy(update={"start": start.isoformat()}), origin)
        for start in held
    ]
    return outcomes, skipped
