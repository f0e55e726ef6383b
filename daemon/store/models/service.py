"""The running daemon's own state: which replicas are alive and what they did last, and the
leases that let exactly one replica do a piece of shared work (the minute's rule tick).

Kept in the ledger so that `collabd status` on any machine sees every replica, and so that a
replica that dies (kill -9, power cut) is noticed by the others: its heartbeat stops.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..types import UTCDateTime
from .base import Base


class ServiceReplica(Base):
    """One row per `collabd run` process, refreshed every few seconds (its heartbeat)."""

    __tablename__ = "service_replicas"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid:random
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(40), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The mailbox this replica holds the watch lock for (None: another replica watches it).
    watching: Mapped[str | None] = mapped_column(String(500))
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last full IMAP pass
    last_tick_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(Text, default="")  # what it is doing, as sd_notify STATUS=
    # A rules file edit refused on SIGHUP (the old rules keep running); "" once one loads.
    rules_problem: Mapped[str] = mapped_column(Text, default="")


class ServiceLease(Base):
    """Shared work claimed by one replica at a time, for a limited time.

    A replica claims the row with FOR UPDATE SKIP LOCKED, sets `holder` and `lease_until`,
    commits, does the work, and records `done_for` (e.g. the minute the tick covered). A
    replica that dies mid-work leaves a lease that runs out; the next one takes over.
    """

    __tablename__ = "service_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


class JobFailure(Base):
    """A rule or time-driven job that failed in a tick, for one subject or as a whole.

    `collabd status` reads the last hour of these: a failing rule is CRITICAL, because an
    item it cannot evaluate is an item nobody is chasing."""

    __tablename__ = "job_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    job: Mapped[str] = mapped_column(String(100))  # "rules", "meeting-reminders" …
    subject: Mapped[str] = mapped_column(String(200), default="")  # v2-launch#3 reminder.cadence
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_job_failures_at", "at"),)
