"""The State Council holiday notices imported into the ledger (`collabd calendar import`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..store.models import PublishedDay


def published_days(session: Session) -> tuple[dict[date, tuple[bool, str]], set[int]]:
    """{day: (working, name)} of every imported notice (a few dozen rows a year), and the
    years notices were imported for."""
    days, years = {}, set()
    query = select(PublishedDay.day, PublishedDay.working, PublishedDay.name, PublishedDay.year)
    for day, working, name, year in session.execute(query):
        days[day] = (working, name)
        years.add(year)
    return days, years


def replace_year(
    session: Session,
    year: int,
    days: Mapping[date, tuple[bool, str]],
    *,
    source: str,
    now: datetime,
) -> None:
    """`year`'s notice is now `days`: a new import of a year replaces the old one whole.

    A notice may name a day of a neighbouring year (a break over New Year); such a day
    belongs to the import of `year` and replaces what an earlier import said about it."""
    session.execute(delete(PublishedDay).where(PublishedDay.year == year))
    session.execute(delete(PublishedDay).where(PublishedDay.day.in_(list(days))))
    session.add_all(
        PublishedDay(
            day=day,
            year=year,
            working=working,
            name=name[:100],
            source=source[:500],
            imported_at=now,
        )
        for day, (working, name) in days.items()
    )
