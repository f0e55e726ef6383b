"""Shared periodic work done by exactly one replica per period (the minute's rule tick).

The lease row is claimed with FOR UPDATE SKIP LOCKED (on PostgreSQL; SQLite has a single
writer), marked with the holder and an expiry, and committed before the work starts, so the
work itself never holds a row lock. A holder that dies leaves a lease that runs out; the
next replica to look takes the period over. The work (run_tick) is idempotent by its outbox
dedupe keys, so a period done twice after a takeover queues nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ..store import Database
from ..store.models import ServiceLease
from ..store.upsert import dialect_insert


def claim(
    db: Database, name: str, period: datetime, now: datetime, lease: timedelta, holder: str
) -> bool:
    """Take `name` for `period` unless that period is done or someone holds a live lease."""
    with db.transaction() as session:
        insert = dialect_insert(db.dialect)
        session.execute(insert(ServiceLease).values(name=name, detail="").on_conflict_do_nothing())
        query = select(ServiceLease).where(ServiceLease.name == name)
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = session.scalar(query)
        if row is None:  # another replica is claiming it right now
            return False
        if row.done_for is not None and row.done_for >= period:
            return False
        if row.holder and row.lease_until and row.lease_until > now and row.holder != holder:
            return False
        row.holder, row.lease_until = holder, now + lease
        return True


def finish(db: Database, name: str, period: datetime, now: datetime, holder: str, detail: str):
    with db.transaction() as session:
        row = session.get(ServiceLease, name, with_for_update=True)
        if row is None:
            return
        row.done_for, row.done_at, row.done_by = period, now, holder
        row.detail = detail[:4000]
        if row.holder == holder:
            row.holder = row.lease_until = None


def release(db: Database, name: str, holder: str) -> None:
    """Give the lease back without marking the period done (the work failed)."""
    with db.transaction() as session:
        row = session.get(ServiceLease, name, with_for_update=True)
        if row is not None and row.holder == holder:
            row.holder = row.lease_until = None
