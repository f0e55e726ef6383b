"""Failures of the rules and time-driven jobs, kept in the ledger for `collabd status`.

A failure in a log line is easy to miss; `collabd status` reads the last hour of these and
turns CRITICAL, naming the rule, the item and the reason. Kept for a week.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from ..store.models import JobFailure

if TYPE_CHECKING:
    from ..app import App
    from ..store import Database

log = logging.getLogger(__name__)
KEEP = timedelta(days=7)
RECENT = timedelta(hours=1)


def record_failures(app: App, now: datetime, failures: list[tuple[str, str, str]]) -> None:
    """Write this tick's failures; the ledger being away must not hide them (logged)."""
    if not failures:
        return
    try:
        with app.db.transaction() as session:
            session.execute(delete(JobFailure).where(JobFailure.at < now - KEEP))
            session.add_all(
                JobFailure(at=now, job=job[:100], subject=subject[:200], detail=detail)
                for job, subject, detail in failures
            )
    except SQLAlchemyError as exc:
        log.error("could not record %d failure(s): %s", len(failures), exc)


def recent_failures(db: Database, now: datetime) -> list[JobFailure]:
    """The last hour's failures, newest first."""
    with db.transaction() as session:
        query = (
            select(JobFailure)
            .where(JobFailure.at >= now - RECENT)
            .order_by(JobFailure.at.desc(), JobFailure.id.desc())
        )
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows
