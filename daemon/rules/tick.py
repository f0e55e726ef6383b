"""One pass of everything time-driven, as of one instant: `collabd tick`, and the daemon's
loop every minute.

A tick only *decides*: it writes what is due into the outbox (in the same transaction as the
state that caused it, deduplicated by key) and returns what it did. Sending is the outbox
sender's job, so a tick can be re-run, or run by several replicas, without sending twice.

This is the agreed seam between the rules engine, the minutes follow-up and the daemon:
`run_tick(app, now)` and the `JOBS` table of time-driven jobs beside the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..calendar.reminders import meeting_reminders
from ..minutes.jobs import request_minutes_of_ended_meetings

if TYPE_CHECKING:
    from ..app import App


@dataclass
class TickReport:
    now: datetime | None = None
    queued: list[str] = field(default_factory=list)  # one line per mail written to the outbox
    deferred: list[str] = field(default_factory=list)  # held back (quiet hours …), and why
    suppressed: list[str] = field(default_factory=list)  # not sent at all, and why
    errors: list[str] = field(default_factory=list)  # a job that failed; the others still ran


# Time-driven jobs besides the rules (minutes requests …): each takes (app, now) and returns
# lines describing what it queued.
Job = Callable[["App", datetime], list[str]]
JOBS: list[tuple[str, Job]] = [
    ("meeting_reminders", meeting_reminders),  # daemon/calendar/reminders.py
    ("minutes-request", request_minutes_of_ended_meetings),  # meeting ended → ask recorder
]


def _acceptance_reminders(app: App, now: datetime) -> list[str]:
    from ..closing.reminders import acceptance_reminders  # closing builds on the mail layer

    return acceptance_reminders(app, now)


JOBS.append(("acceptance-review", _acceptance_reminders))  # issue 8: remind the receiver


def _ews_calendar_rsvps(app: App, now: datetime) -> list[str]:
    """calendar.backend = "ews": read attendees' answers from Exchange (calendar/ews.py)."""
    from ..calendar.ews import sync_upcoming_rsvps

    return sync_upcoming_rsvps(app, now)


JOBS.append(("ews-calendar-rsvps", _ews_calendar_rsvps))


def run_tick(app: App, now: datetime | None = None) -> TickReport:
    now = now or app.clock.now()
    report = TickReport(now=now)
    for name, job in JOBS:
        try:
            report.queued += job(app, now)
        except Exception as exc:  # one failing job never stops the others
            report.errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return report
