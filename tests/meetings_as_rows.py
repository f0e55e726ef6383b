"""Meetings as ledger rows, for the minutes tests: scheduling them (invitations, RSVPs) is
another part of collabd; the minutes only need the rows to exist."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from daemon.ledger.collaborations import find_collaboration
from daemon.ledger.people import find_person
from daemon.store.models import AgendaItem, Attendee, AttendeeRole, Meeting, MeetingStatus, Rsvp

# The seed's example meeting (seed 002: Q3产品迭代跨部门协调会).
ATTENDEES = (
    ("张伟", "accepted"),
    ("陈静", "accepted"),
    ("李娜", "accepted"),
    ("王强", "accepted"),
    ("赵敏", "tentative"),
    ("Emily Chen", "accepted"),
    ("刘洋", "declined"),
)
AGENDA = (
    ("开场与目标重申", "张伟"),
    ("各部门进展同步", None),
    ("跨部门协作问题聚焦与方案研讨", "陈静"),
)


def add_meeting(
    session: Session,
    *,
    collab: str,
    starts_at: datetime,
    title: str = "Q3产品迭代跨部门协调会",
    duration: int = 90,
    host: str = "张伟",
    recorder: str = "陈静",
    attendees=ATTENDEES,
    agenda=AGENDA,
    organizer: str = "collabd@example.com",
) -> int:
    collaboration = find_collaboration(session, collab)
    meeting = Meeting(
        collaboration=collaboration,
        title=title,
        starts_at=starts_at,
        duration_minutes=duration,
        timezone="Asia/Shanghai",
        location="3楼会议室A",
        online_url="",
        host=find_person(session, host),
        recorder=find_person(session, recorder),
        organizer_email=organizer,
        uid=f"{uuid.uuid4()}@collabd",
        sequence=0,
        status=MeetingStatus.SCHEDULED,
        created_at=starts_at,
        updated_at=starts_at,
    )
    for name, rsvp in attendees:
        person = find_person(session, name)
        meeting.attendees.append(
            Attendee(
                person=person,
                email=person.email,
                role=AttendeeRole.CHAIR if name == host else AttendeeRole.REQUIRED,
                rsvp=Rsvp(rsvp),
                comment="",
            )
        )
    for position, (topic, owner) in enumerate(agenda, start=1):
        meeting.agenda.append(
            AgendaItem(
                position=position,
                topic=topic,
                owner=find_person(session, owner) if owner else None,
                minutes=15,
            )
        )
    session.add(meeting)
    session.flush()
    return meeting.id
