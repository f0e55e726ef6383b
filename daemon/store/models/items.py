"""Action items (行动项): numbered per collaboration (#1, #2, …); people are chased on them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..enums import ItemStatus, Priority
from ..types import UTCDateTime, str_enum
from .base import Base
from .collaborations import Collaboration
from .minutes import Minutes
from .people import Department, Person

item_collaborators = Table(
    "item_collaborators",  # 协作人
    Base.metadata,
    Column("item_id", ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", ForeignKey("people.id"), primary_key=True),
)

item_dependencies = Table(
    "item_dependencies",  # seed 001: 识别任务依赖关系
    Base.metadata,
    Column("item_id", ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
    CheckConstraint("item_id <> depends_on_id", name="not_self"),
)


class ActionItem(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(ForeignKey("collaborations.id"))
    number: Mapped[int] = mapped_column(Integer)  # the #N people write in replies
    description: Mapped[str] = mapped_column(Text)  # 任务描述
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)  # 负责人
    owner_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    done_criteria: Mapped[str] = mapped_column(Text, default="")  # 完成标准
    deadline: Mapped[date | None] = mapped_column(Date)  # 截止日期
    priority: Mapped[Priority] = mapped_column(
        str_enum(Priority, "priority"), default=Priority.NORMAL
    )
    status: Mapped[ItemStatus] = mapped_column(
        str_enum(ItemStatus, "item_status"), default=ItemStatus.NOT_STARTED
    )
    # When the status last changed: "blocked for N working days" is asked of this column.
    status_since: Mapped[datetime] = mapped_column(UTCDateTime())
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    support_needed: Mapped[str] = mapped_column(Text, default="")  # 所需支持
    note: Mapped[str] = mapped_column(Text, default="")  # 备注
    receiver_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # who accepts it
    minutes_id: Mapped[int | None] = mapped_column(ForeignKey("minutes.id"))  # born in minutes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    collaboration: Mapped[Collaboration] = relationship()
    owner: Mapped[Person] = relationship(foreign_keys=[owner_id])
    owner_department: Mapped[Department | None] = relationship()
    receiver: Mapped[Person | None] = relationship(foreign_keys=[receiver_id])
    minutes: Mapped[Minutes | None] = relationship()
    collaborators: Mapped[list[Person]] = relationship(
        secondary=item_collaborators, order_by="Person.id"
    )
    depends_on: Mapped[list[ActionItem]] = relationship(
        secondary=item_dependencies,
        primaryjoin=lambda: ActionItem.id == item_dependencies.c.item_id,
        secondaryjoin=lambda: ActionItem.id == item_dependencies.c.depends_on_id,
        order_by="ActionItem.number",
    )

    __table_args__ = (
        UniqueConstraint("collaboration_id", "number"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
        CheckConstraint("number > 0", name="number_positive"),
        # The rule ticks look for open items by deadline; keep that an index range scan.
        Index("ix_action_items_open_deadline", "status", "deadline"),
    )

    @property
    def ref(self) -> str:
        """`code#N`, the reference used on the command line."""
        return f"{self.collaboration.code}#{self.number}"
