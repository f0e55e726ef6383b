"""The rules' own state: when each rule is next due for each thing it watches, how far an
escalation has gone (and which version of its rule it keeps), and delay requests waiting
for the initiator's approval."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..types import UTCDateTime
from .base import Base
from .items import ActionItem
from .people import Person


class RuleSchedule(Base):
    """One rule watching one subject (an item, a collaboration, a meeting, or `global`).

    `next_due_at` is indexed: a tick reads only the rows that are due, so its cost follows
    what is due, not the size of the ledger. `last_due_at` is the occurrence last acted on
    (sent, suppressed or collapsed), so nothing is decided twice."""

    __tablename__ = "rule_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(100))  # item:12, collab:3, global
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_items.id", ondelete="CASCADE"), index=True
    )
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Escalations: the episode (when its trigger started), how far it went, and the rule
    # definition it started with; a config reload does not change an episode in flight.
    episode: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[int] = mapped_column(Integer, default=0)
    rule_version: Mapped[str] = mapped_column(String(64), default="")
    snapshot: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("rule_id", "subject"),
        Index("ix_rule_schedule_due", "next_due_at"),
    )


class RuleCursor(Base):
    """How far the rules have read the history table (its ids only grow): items changed
    after that are rescheduled, everything else is left alone."""

    __tablename__ = "rule_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DelayRequest(Base):
    """An owner's `延期至…`: the deadline moves only when the initiator approves."""

    __tablename__ = "delay_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    old_deadline: Mapped[date | None] = mapped_column(Date)
    new_deadline: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # approved, rejected
    source: Mapped[str] = mapped_column(String(998))  # Message-ID of the owner's mail
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(Text, default="")

    item: Mapped[ActionItem] = relationship()
    requested_by: Mapped[Person] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id])


class PublishedDay(Base):
    """One day of a State Council holiday notice, imported with `collabd calendar import`.

    In the ledger rather than a file so that every replica, on any machine, counts working
    days the same way from the next tick on, without a reload. A year's rows are replaced
    whole by the next import of that year."""

    __tablename__ = "published_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    working: Mapped[bool] = mapped_column(Boolean)  # True: a make-up working day (调休上班)
    name: Mapped[str] = mapped_column(String(100))  # the holiday, as the notice names it
    source: Mapped[str] = mapped_column(String(500))  # the file it was imported from
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
