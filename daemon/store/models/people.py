"""People and departments: who gets mail, and who is above whom for escalation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..enums import Locale
from ..types import UTCDateTime, str_enum
from .base import Base


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    members: Mapped[list[Person]] = relationship(back_populates="department")

    def __repr__(self) -> str:
        return f"<Department {self.name}>"


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Stored lower-case: mail addresses are compared case-insensitively everywhere.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    locale: Mapped[Locale] = mapped_column(str_enum(Locale, "locale"), default=Locale.ZH_CN)
    # Escalation chain: the person's department head and their own leader (may be the same).
    head_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    department: Mapped[Department | None] = relationship(back_populates="members")
    # post_update: a head may be their own head; set the link after both rows exist.
    head: Mapped[Person | None] = relationship(
        foreign_keys=[head_id], remote_side=[id], post_update=True
    )
    leader: Mapped[Person | None] = relationship(
        foreign_keys=[leader_id], remote_side=[id], post_update=True
    )

    @property
    def mailbox(self) -> str:
        """`Name <address>` for a To: header."""
        from email.utils import formataddr

        return formataddr((self.name, self.email))

    def __repr__(self) -> str:
        return f"<Person {self.name} <{self.email}>>"
