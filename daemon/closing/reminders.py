"""The acceptance review reminder: a receiver who has not answered an acceptance request
within `review_within` (default 1 working day, seed 000's rhythm) is asked once more.

A time-driven job for rules/tick.py's JOBS table; the outbox key makes it once per round,
however often the tick runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..durations import Duration
from ..rules.config import active_rules
from .acceptance import pending_since, remind

if TYPE_CHECKING:
    from ..app import App

RULE_ID = "acceptance.review_within"


def review_within(app: App) -> Duration:
    """`[acceptance] review_within` of the rules file (default 1 working day)."""
    return active_rules(app).spec.acceptance.review_within


def acceptance_reminders(app: App, now: datetime) -> list[str]:
    wait = review_within(app)
    calendar = active_rules(app).calendar  # the admin's working days, overrides and work hours
    queued = []
    with app.db.transaction() as session:
        for request in pending_since(session, now):
            if calendar.add(request.requested_at, wait) > now:
                continue
            if remind(session, app, request, RULE_ID, now):
                queued.append(
                    f"{RULE_ID}: {request.item.ref} round {request.round} → "
                    f"{request.receiver.email} (asked {request.requested_at:%Y-%m-%d %H:%M} UTC)"
                )
    return queued
