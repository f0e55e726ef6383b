"""Meetings: the calendar object collabd sends (UID + SEQUENCE) and what attendees answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..enums import AttendeeRole, MeetingStatus, Rsvp
from ..types import UTCDateTime, str_enum
from .base import Base
from .collaborations import Collaboration
from .people import Person


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL only while collabd waits for the organizer of a meeting scheduled in Outlook to
    # say which collaboration it belongs to (migration 0005).
    collaboration_id: Mapped[int | None] = mapped_column(
        ForeignKey("collaborations.id"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))  # the TZID written into the invitation
    location: Mapped[str] = mapped_column(String(300), default="")
    online_url: Mapped[str] = mapped_column(String(1000), default="")
    host_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # 主持人
    recorder_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # 记录人
    organizer_email: Mapped[str] = mapped_column(String(320))
    # iCalendar identity: the same UID for the meeting's whole life, SEQUENCE +1 per change.
    # An occurrence of a recurring series (calendar/series.py) is a meeting of its own: its
    # uid is the series UID + "#" + its RECURRENCE-ID, and series_uid is the series UID.
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    series_uid: Mapped[str | None] = mapped_column(String(255), index=True)
    recurrence_id: Mapped[datetime | None] = mapped_column(UTCDateTime())  # its original start
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[MeetingStatus] = mapped_column(
        str_enum(MeetingStatus, "meeting_status"), default=MeetingStatus.SCHEDULED
    )
    urgent_reason: Mapped[str | None] = mapped_column(Text)  # why the notice rule was waived
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # What the invitation says beyond the agenda (Outlook's body for meetings scheduled there).
    description: Mapped[str] = mapped_column(Text, default="")

    collaboration: Mapped[Collaboration | None] = relationship()
    host: Mapped[Person | None] = relationship(foreign_keys=[host_id])
    recorder: Mapped[Person | None] = relationship(foreign_keys=[recorder_id])
    attendees: Mapped[list[Attendee]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="Attendee.id"
    )
    agenda: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="AgendaItem.position"
    )
    attachments: Mapped[list[MeetingAttachment]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="MeetingAttachment.id"
    )


class Attendee(Base):
    __tablename__ = "meeting_attendees"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # Kept even for known people: RSVPs are matched on the address the invitation went to.
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[AttendeeRole] = mapped_column(
        str_enum(AttendeeRole, "attendee_role"), default=AttendeeRole.REQUIRED
    )
    rsvp: Mapped[Rsvp] = mapped_column(str_enum(Rsvp, "rsvp"), default=Rsvp.NEEDS_ACTION)
    rsvp_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text, default="")
    # An iMIP COUNTER ("propose new time"): what the attendee asked for, until the next change.
    proposed_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    proposed_end: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting: Mapped[Meeting] = relationship(back_populates="attendees")
    person: Mapped[Person | None] = relationship()

    __table_args__ = (UniqueConstraint("meeting_id", "email"),)


class AgendaItem(Base):
    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(500))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    minutes: Mapped[int] = mapped_column(Integer, default=0)  # planned length, in minutes

    meeting: Mapped[Meeting] = relationship(back_populates="agenda")
    owner: Mapped[Person | None] = relationship()

    __table_args__ = (UniqueConstraint("meeting_id", "position"),)


class MeetingAttachment(Base):
    """Background material (背景材料) sent with the invitation.

    The bytes are kept in the ledger (`content`), so an update or a replica resends exactly
    the same file; `path` is where it was read from, for people to recognise it."""

    __tablename__ = "meeting_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1000))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)

    meeting: Mapped[Meeting] = relationship(back_populates="attachments")
