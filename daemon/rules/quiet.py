"""Quiet hours: a mail decided at night or on a holiday waits for the morning.

Deferred, never dropped: the mail is written to the outbox now (so the decision is recorded
and deduplicated now) with `not_before` set to the next allowed instant.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from .config import QuietHours
from .workdays import WorkCalendar


def release_time(quiet: QuietHours, calendar: WorkCalendar, now: datetime) -> tuple[datetime, str]:
    """The first instant at or after `now` a mail may go out, and why it had to wait ("")."""
    if not quiet.enabled:
        return now, ""
    local = now.astimezone(calendar.timezone)
    candidate, reasons = local, []
    for _ in range(400):  # a year of holidays at most; the calendar refuses beyond its data
        if quiet.non_working_days and not calendar.is_working_day(candidate.date()):
            why = calendar.info(candidate.date()).reason("en")  # beside "quiet hours …"
            reasons.append(f"{candidate.date()} {why}")
            candidate = _at(calendar, candidate.date() + timedelta(days=1), quiet.end)
            continue
        if _in_quiet(quiet, candidate.time()):
            reasons.append(
                f"quiet hours {quiet.start.strftime('%H:%M')}–{quiet.end.strftime('%H:%M')}"
            )
            end_day = candidate.date()
            if quiet.start > quiet.end and candidate.time() >= quiet.start:
                end_day += timedelta(days=1)
            candidate = _at(calendar, end_day, quiet.end)
            continue
        break
    if candidate == local:
        return now, ""
    unique = list(dict.fromkeys(reasons))
    return candidate.astimezone(now.tzinfo), "; ".join(unique)


def _in_quiet(quiet: QuietHours, clock: time) -> bool:
    if quiet.start > quiet.end:  # over midnight, e.g. 20:00–08:00
        return clock >= quiet.start or clock < quiet.end
    return quiet.start <= clock < quiet.end


def _at(calendar: WorkCalendar, day, clock: time) -> datetime:
    return datetime.combine(day, clock, calendar.timezone)
