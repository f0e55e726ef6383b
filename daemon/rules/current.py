"""The rules as they stand now: the rules file loaded at start (or on SIGHUP), with the
holiday notices imported into the ledger since.

The rules file is config and changes only when the daemon is told to reload; an imported
notice is data, shared by every replica through the ledger, and takes effect at the next
tick without a reload (a few dozen rows a year, read once per tick).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ledger.published import published_days
from .config import Rules, active_rules

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..app import App
    from .workdays import WorkCalendar


def current_rules(app: App, session: Session | None = None) -> Rules:
    """`session`: read the notices in the caller's transaction (a handler applying a mail
    on SQLite must not open a second one: the first holds the write lock)."""
    rules = active_rules(app)
    if session is not None:
        days, years = published_days(session)
    else:
        with app.db.transaction() as own:
            days, years = published_days(own)
    calendar = rules.calendar
    if days != dict(calendar.published) or years != calendar.published_years:
        rules.calendar = calendar.with_published(days, years)
    return rules


def calendar_in(session: Session, app: App) -> WorkCalendar:
    """The working-day calendar now, read in the caller's transaction (a reply being
    applied resolves "下周" / "月底" with the notices imported so far)."""
    calendar = active_rules(app).calendar
    days, years = published_days(session)
    if days != dict(calendar.published) or years != calendar.published_years:
        calendar = calendar.with_published(days, years)
    return calendar
