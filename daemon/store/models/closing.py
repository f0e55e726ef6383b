"""Closing the loop (闭环管理, seed 000): deliverables and their acceptance, the retrospective,
and why late items ran late.

The files themselves live in the data directory; these rows link them to their item with the
sha256 they had when they arrived, so the archive can prove it holds what was delivered.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..types import UTCDateTime, str_enum
from .base import Base
from .collaborations import Collaboration
from .items import ActionItem
from .people import Person


class Verdict(enum.StrEnum):
    """Where an acceptance request (验收) stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class AcceptanceRequest(Base):
    """One round of acceptance: the owner delivered, the receiver checks against the
    done-criteria. A rejection sends the item back; the next delivery opens round + 1."""

    __tablename__ = "acceptance_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id"))
    collaboration_id: Mapped[int] = mapped_column(ForeignKey("collaborations.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    receiver_id: Mapped[int] = mapped_column(ForeignKey("people.id"))  # 验收人
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(998))  # what caused it: Message-ID / CLI
    verdict: Mapped[Verdict] = mapped_column(
        str_enum(Verdict, "acceptance_verdict"), default=Verdict.PENDING
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decision_source: Mapped[str | None] = mapped_column(String(998))
    note: Mapped[str] = mapped_column(Text, default="")  # the receiver's reason or comment

    item: Mapped[ActionItem] = relationship()
    receiver: Mapped[Person] = relationship(foreign_keys=[receiver_id])
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id])
    deliverables: Mapped[list[Deliverable]] = relationship(
        back_populates="request", order_by="Deliverable.id"
    )

    __table_args__ = (
        UniqueConstraint("item_id", "round"),
        # "acceptance requests pending since …": the reminder rule's question.
        Index("ix_acceptance_requests_pending", "verdict", "requested_at"),
    )


class Deliverable(Base):
    """A file an owner sent with `#N 完成` (成果物)."""

    __tablename__ = "deliverables"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("acceptance_requests.id"))
    filename: Mapped[str] = mapped_column(String(255))  # the safe name it is stored under
    original_filename: Mapped[str] = mapped_column(Text, default="")  # as the mail named it
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1000))  # relative to the data directory
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    source: Mapped[str] = mapped_column(String(998))  # Message-ID of the mail that brought it
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())

    item: Mapped[ActionItem] = relationship()
    request: Mapped[AcceptanceRequest] = relationship(back_populates="deliverables")
    submitted_by: Mapped[Person | None] = relationship()

    __table_args__ = (UniqueConstraint("request_id", "filename"),)


class Retrospective(Base):
    """The look back (复盘) of one collaboration: asked once, when everything was accepted or
    the coordinator closed it."""

    __tablename__ = "retrospectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(ForeignKey("collaborations.id"), unique=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(64))  # all_accepted / closed
    source: Mapped[str] = mapped_column(String(998))

    collaboration: Mapped[Collaboration] = relationship()
    answers: Mapped[list[RetrospectiveAnswer]] = relationship(
        back_populates="retrospective", order_by="RetrospectiveAnswer.id"
    )
    late_items: Mapped[list[LateItem]] = relationship(
        back_populates="retrospective", order_by="LateItem.id"
    )


class RetrospectiveAnswer(Base):
    """One participant's answer: 亮点 / 不足 / 改进建议, and the text as typed."""

    __tablename__ = "retrospective_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    retrospective_id: Mapped[int] = mapped_column(ForeignKey("retrospectives.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    highlights: Mapped[str] = mapped_column(Text, default="")  # 亮点
    shortfalls: Mapped[str] = mapped_column(Text, default="")  # 不足
    suggestions: Mapped[str] = mapped_column(Text, default="")  # 改进建议
    text: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(998), unique=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())

    retrospective: Mapped[Retrospective] = relationship(back_populates="answers")
    person: Mapped[Person] = relationship()


class LateItem(Base):
    """An item that finished after its deadline (or not at all), and why, read from its
    history when the retrospective was asked for (seed 003: 延期原因)."""

    __tablename__ = "late_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    retrospective_id: Mapped[int] = mapped_column(ForeignKey("retrospectives.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id"))
    deadline: Mapped[date] = mapped_column(Date)
    finished_on: Mapped[date | None] = mapped_column(Date)  # None: still open at closing
    days_late: Mapped[int] = mapped_column(Integer)
    cause: Mapped[str] = mapped_column(Text)

    retrospective: Mapped[Retrospective] = relationship(back_populates="late_items")
    item: Mapped[ActionItem] = relationship()

    __table_args__ = (UniqueConstraint("retrospective_id", "item_id"),)
