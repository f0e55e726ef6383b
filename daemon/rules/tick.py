"""One pass of everything time-driven, as of one instant: `collabd tick`, and the daemon's
loop every minute.

A tick only *decides*: it writes what is due into the outbox (in the same transaction as the
state that caused it, deduplicated by key) and returns what it did. Sending is the outbox
sender's job, so a tick can be re-run, or run by several replicas, without sending twice.

This is the agreed seam between the rules engine, the minutes follow-up and the daemon:
`run_tick(app, now)` and the `JOBS` table of time-driven jobs beside the rules. The rules
engine (daemon/rules/engine.py) runs first, in its own transaction; then the JOBS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..calendar.ended import mark_ended_meetings
from ..calendar.reminders import meeting_reminders
from ..minutes.jobs import request_minutes_of_ended_meetings
from .failed_jobs import record_failures

if TYPE_CHECKING:
    from ..app import App


@dataclass
class TickReport:
    now: datetime | None = None
    queued: list[str] = field(default_factory=list)  # one line per mail written to the outbox
    deferred: list[str] = field(default_factory=list)  # held back (quiet hours …), and why
    suppressed: list[str] = field(default_factory=list)  # not sent at all, and why
    errors: list[str] = field(default_factory=list)  # a job that failed; the others still ran
    decisions: list = field(default_factory=list)  # the rules engine's Decisions, structured
    # (job, subject, detail) of each failure, recorded in the ledger for `collabd status`
    failures: list[tuple[str, str, str]] = field(default_factory=list)


log = logging.getLogger(__name__)


# Time-driven jobs besides the rules: each takes (app, now) and returns lines describing
# what it queued. Some are imported when first run: they sit on top of the mail layer, or,
# for Exchange, of exchangelib, which a tick without EWS need not load.
Job = Callable[["App", datetime], list[str]]


def _acceptance_reminders(app: App, now: datetime) -> list[str]:
    from ..closing.reminders import acceptance_reminders

    return acceptance_reminders(app, now)


def _ews_calendar_rsvps(app: App, now: datetime) -> list[str]:
    """calendar.backend = "ews": read attendees' answers from Exchange (calendar/ews.py)."""
    from ..calendar.ews import sync_upcoming_rsvps

    return sync_upcoming_rsvps(app, now)


def _graph_calendar_rsvps(app: App, now: datetime) -> list[str]:
    """calendar.backend = "graph": the same, through Microsoft Graph (calendar/graph.py)."""
    from ..calendar.graph import sync_upcoming_rsvps

    return sync_upcoming_rsvps(app, now)


def _report_failures(app: App, now: datetime) -> list[str]:
    from .failures import report_failures

    return report_failures(app, now)


def _tell_admins_of_estimates(app: App, now: datetime) -> list[str]:
    from .estimate_notice import tell_admins

    return tell_admins(app, now)


def _answer_digests(app: App, now: datetime) -> list[str]:
    from ..mail.answer import answer_digests

    return answer_digests(app, now)


def _slim_sent(app: App, now: datetime) -> list[str]:
    from ..mail.slim import slim_sent

    return slim_sent(app, now)


JOBS: list[tuple[str, Job]] = [
    ("meeting-ended", mark_ended_meetings),  # past its end time: 已结束 in the ledger
    ("meeting-reminders", meeting_reminders),  # unanswered invitations, the day's meetings
    ("minutes-request", request_minutes_of_ended_meetings),  # meeting ended → ask recorder
    ("acceptance-review", _acceptance_reminders),  # the receiver, after review_within
    ("ews-calendar-rsvps", _ews_calendar_rsvps),  # answers kept by Exchange
    ("graph-calendar-rsvps", _graph_calendar_rsvps),  # … on Exchange Online
    ("delivery-failures", _report_failures),  # the coordinator hears of undeliverable mail
    ("calendar-estimate", _tell_admins_of_estimates),  # admins: a year runs on an estimate
    ("answer-digests", _answer_digests),  # answers the hourly limit held, once it has room
    ("slim-sent", _slim_sent),  # sent acceptance requests give their files' bytes back
]


def run_tick(app: App, now: datetime | None = None) -> TickReport:
    now = now or app.clock.now()
    report = TickReport(now=now)
    try:
        _rules(app, now, report)
    except Exception as exc:  # the rules failing never stops the jobs
        log.exception("rules failed")
        report.errors.append(f"rules: {type(exc).__name__}: {exc}")
        report.failures.append(("rules", "", f"{type(exc).__name__}: {exc}"))
    for name, job in JOBS:
        try:
            report.queued += job(app, now)
        except Exception as exc:  # one failing job never stops the others
            log.exception("job %s failed", name)
            report.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            report.failures.append((name, "", f"{type(exc).__name__}: {exc}"))
    record_failures(app, now, report.failures)
    return report


_WARNED: set[tuple[str, object]] = set()  # calendar coverage warnings, once a day per process


def _rules(app: App, now: datetime, report: TickReport) -> None:
    from .current import current_rules
    from .engine import evaluate

    rules = current_rules(app)  # with the holiday notices imported since the last tick
    today = now.astimezone(rules.zone).date()
    for warning in rules.calendar.coverage_warnings(today):
        if (warning, today) not in _WARNED:  # e.g. from 15 November: next year is missing
            _WARNED.add((warning, today))
            log.warning("%s", warning)

    with app.db.transaction() as session:
        decisions = evaluate(session, app, now)
    zone = rules.zone
    report.decisions += decisions
    for decision in decisions:
        line = decision.line(zone)
        if decision.status == "queued":
            report.queued.append(line)
        elif decision.status == "deferred":
            report.deferred.append(line)
        elif decision.status == "error":
            report.errors.append(line)
            subject = f"{decision.rule} {decision.subject}".strip()
            report.failures.append(("rules", subject, decision.why("en")))
        elif decision.status in ("suppressed", "stale", "no-recipient", "skipped", "superseded"):
            report.suppressed.append(line)
