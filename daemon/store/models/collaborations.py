"""A collaboration (协作): one shared goal, several departments, one ledger of action items."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..enums import CollabStatus, ParticipantRole
from ..types import UTCDateTime, str_enum
from .base import Base
from .people import Department, Person


class Collaboration(Base):
    __tablename__ = "collaborations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The short name people type: `--collab v2-launch`, `v2-launch#3`.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    theme: Mapped[str] = mapped_column(String(300))  # 协作主题
    goal: Mapped[str] = mapped_column(Text, default="")  # 协作目标
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    initiating_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    initiator_id: Mapped[int] = mapped_column(ForeignKey("people.id"))  # 发起人
    coordinator_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    status: Mapped[CollabStatus] = mapped_column(
        str_enum(CollabStatus, "collab_status"), default=CollabStatus.ACTIVE
    )
    background: Mapped[str] = mapped_column(Text, default="")  # 背景材料 (summary text)
    # Last action-item number handed out; bumped with UPDATE … RETURNING so that two writers
    # can never hand out the same #N (the unique key on items is the second line of defence).
    item_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    initiating_department: Mapped[Department | None] = relationship()
    initiator: Mapped[Person] = relationship(foreign_keys=[initiator_id])
    coordinator: Mapped[Person] = relationship(foreign_keys=[coordinator_id])
    participants: Mapped[list[Participant]] = relationship(
        back_populates="collaboration", cascade="all, delete-orphan", order_by="Participant.id"
    )

    def __repr__(self) -> str:
        return f"<Collaboration {self.code}>"


class Participant(Base):
    """A department taking part, its contact person (对接人) and its role."""

    __tablename__ = "collaboration_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    role: Mapped[ParticipantRole] = mapped_column(str_enum(ParticipantRole, "participant_role"))
    duties: Mapped[str] = mapped_column(Text, default="")  # 职责描述

    collaboration: Mapped[Collaboration] = relationship(back_populates="participants")
    department: Mapped[Department] = relationship()
    contact: Mapped[Person] = relationship()

    __table_args__ = (UniqueConstraint("collaboration_id", "department_id"),)
