"""Minutes (会议纪要) and each attendee's confirmation of them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..enums import Confirmation, MinutesStatus, Priority, SourceKind
from ..types import UTCDateTime, str_enum
from .base import Base
from .meetings import Meeting
from .people import Person


class Minutes(Base):
    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    # A corrected version supersedes the old one; both stay, so the record shows what changed.
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("minutes.id"))
    status: Mapped[MinutesStatus] = mapped_column(
        str_enum(MinutesStatus, "minutes_status"), default=MinutesStatus.DRAFT
    )
    discussion: Mapped[str] = mapped_column(Text, default="")  # 议程与讨论内容
    decisions: Mapped[str] = mapped_column(Text, default="")  # 共识事项
    next_steps: Mapped[str] = mapped_column(Text, default="")  # 下一步计划
    next_meeting: Mapped[str] = mapped_column(String(300), default="")
    source_kind: Mapped[SourceKind] = mapped_column(str_enum(SourceKind, "source_kind"))
    source: Mapped[str] = mapped_column(String(998))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The minutes exactly as the recorder wrote them (reply text or file), for the record.
    raw_text: Mapped[str] = mapped_column(Text, default="")

    meeting: Mapped[Meeting] = relationship()
    supersedes: Mapped[Minutes | None] = relationship(remote_side="Minutes.id")
    rows: Mapped[list[MinutesItemRow]] = relationship(
        back_populates="minutes", cascade="all, delete-orphan", order_by="MinutesItemRow.position"
    )
    confirmations: Mapped[list[MinutesConfirmation]] = relationship(
        back_populates="minutes", cascade="all, delete-orphan", order_by="MinutesConfirmation.id"
    )

    __table_args__ = (UniqueConstraint("meeting_id", "version"),)


class MinutesConfirmation(Base):
    __tablename__ = "minutes_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    state: Mapped[Confirmation] = mapped_column(
        str_enum(Confirmation, "confirmation"), default=Confirmation.PENDING
    )
    note: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str | None] = mapped_column(String(998))  # Message-ID of the answer
    # When this version asked the person; None when an earlier answer was carried over
    # because the correction did not touch them. The confirmation window runs from here.
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How the state was reached: reply, cli, silence (rules config), carried (from the
    # previous version), or "" while pending.
    settled_by: Mapped[str] = mapped_column(String(20), default="")

    minutes: Mapped[Minutes] = relationship(back_populates="confirmations")
    person: Mapped[Person] = relationship()

    __table_args__ = (UniqueConstraint("minutes_id", "person_id"),)


class MinutesItemRow(Base):
    """One row of a version's action-item table (行动项清单), as the recorder wrote it,
    and the ledger item it became. Comparing two versions' rows tells who a correction
    affects."""

    __tablename__ = "minutes_item_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 1-based, in the recorder's order
    description: Mapped[str] = mapped_column(Text)  # 任务
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"))  # 负责人
    collaborators: Mapped[str] = mapped_column(Text, default="")  # 协作人: addresses, ", "
    done_criteria: Mapped[str] = mapped_column(Text, default="")  # 完成标准
    deadline: Mapped[date | None] = mapped_column(Date)  # 截止日期
    support: Mapped[str] = mapped_column(Text, default="")  # 所需支持
    priority: Mapped[Priority] = mapped_column(
        str_enum(Priority, "priority"), default=Priority.NORMAL
    )  # 优先级
    item_id: Mapped[int | None] = mapped_column(ForeignKey("action_items.id"))

    minutes: Mapped[Minutes] = relationship(back_populates="rows")
    owner: Mapped[Person] = relationship()

    __table_args__ = (UniqueConstraint("minutes_id", "position"),)


class MinutesRequest(Base):
    """collabd asked the recorder for the minutes of a meeting (once per meeting: the unique
    key is what keeps a re-run tick from asking twice). The rules engine chases from here."""

    __tablename__ = "minutes_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), unique=True)
    recorder_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())  # first request
    sent_count: Mapped[int] = mapped_column(Integer, default=1)  # 1 + manual re-sends
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime())

    meeting: Mapped[Meeting] = relationship()
    recorder: Mapped[Person] = relationship()
