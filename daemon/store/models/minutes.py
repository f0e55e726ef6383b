"""Minutes (会议纪要) and each attendee's confirmation of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..types import UTCDateTime, str_enum
from .base import Base
from .enums import Confirmation, MinutesStatus, SourceKind
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

    meeting: Mapped[Meeting] = relationship()
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

    minutes: Mapped[Minutes] = relationship(back_populates="confirmations")
    person: Mapped[Person] = relationship()

    __table_args__ = (UniqueConstraint("minutes_id", "person_id"),)
