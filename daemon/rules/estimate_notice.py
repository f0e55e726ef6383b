"""Telling the admins, once per year, that a year's holiday schedule is missing.

From 15 November (the State Council publishes next year's schedule around then), and
whenever the rules counted an estimated working day, each address in `[daemon] admins`
gets one mail naming the year, what collabd does meanwhile, and the one command that
fixes it. The outbox's dedupe key makes it one mail per admin and year, whichever replica
ticks and however often.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ..mail.outbox import queue_mail
from ..store.models import Locale, Person
from .current import current_rules
from .workdays import fix_command

if TYPE_CHECKING:
    from ..app import App

KIND = "calendar_estimated"
UNPUBLISHED = ("estimate", "weekdays", "refuse")


def years_to_announce(app: App, now: datetime) -> list[int]:
    rules = current_rules(app)
    calendar = rules.calendar
    today = now.astimezone(rules.zone).date()
    years = set(calendar.estimated_seen)
    if calendar.basis(today.year) in UNPUBLISHED:
        years.add(today.year)
    if (today.month, today.day) >= (11, 15) and calendar.basis(today.year + 1) in UNPUBLISHED:
        years.add(today.year + 1)
    return sorted(year for year in years if calendar.basis(year) in UNPUBLISHED)


def tell_admins(app: App, now: datetime) -> list[str]:
    admins = app.settings.daemon.admins
    if not admins:
        return []
    years = years_to_announce(app, now)
    if not years:
        return []
    calendar = current_rules(app).calendar
    first, last = calendar.coverage()
    lines = []
    with app.db.transaction() as session:
        for address in admins:
            person = _person(session, address)
            for year in years:
                queued = queue_mail(
                    session,
                    app,
                    now=now,
                    kind=KIND,
                    dedupe_key=f"{KIND}:{year}:{address}",
                    to=person,
                    context={
                        "year": year,
                        "fallback": calendar.fallback,
                        "command": fix_command(year),
                        "known": f"{first}–{last}",
                    },
                    rule_id="calendar.estimate",
                    rule_level=0,
                )
                if queued:
                    lines.append(f"calendar: told {address} that {year} has no official schedule")
    return lines


def _person(session, address: str) -> Person:
    """The admin as a person: from the people list (their name and language) if there."""
    found = session.scalar(select(Person).where(func.lower(Person.email) == address))
    if found is not None:
        return found
    return Person(id=0, name=address.partition("@")[0], email=address, locale=Locale.ZH_CN)
