"""The next meeting (seed 002: 下次会议时间): when published minutes name the next meeting's
date and time, collabd schedules it — same title, duration, place, host, recorder and
attendees, the agenda seeded with the collaboration's open items. If the notice rule
(`meetings.min_notice`) or a statutory holiday is in the way, nothing is scheduled: the
coordinator is asked, with the earliest allowed time, and a reply `同意` / `OK` schedules it
then (daemon/inbound/routes.py routes that reply here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..ledger.history import Origin
from ..ledger.items import OPEN_STATUSES, ItemFilter, query_items
from ..mail.outbox import queue_mail
from ..mail.reply.dates import match_date
from ..rules.workdays import WorkCalendar
from ..store.models import (
    CollabStatus,
    InboundStatus,
    Meeting,
    Minutes,
)
from .scheduling import earliest_start, schedule
from .specs import AgendaSpec, MeetingSpec

if TYPE_CHECKING:
    from ..app import App
    from ..mail.envelope import Decision, ReplyContext

# 14:00, 14：30, 14点, 下午3点半, 3pm
_TIME = re.compile(
    r"(?P<half>上午|下午|晚上|早上)?\s*(?P<h>\d{1,2})\s*(?:[:：](?P<m>\d{2})|点(?P<half_hour>半)?"
    r"(?:(?P<m2>\d{1,2})分)?|\s*(?P<ampm>am|pm))",
    re.I,
)
MAX_TEXT = 300  # the column's width: what a person writes for 下次会议时间


@dataclass(frozen=True)
class Wanted:
    start: datetime
    blocked: str  # "" when it can be scheduled as asked; else "notice" or "holiday"
    earliest: datetime  # the earliest allowed time on or after the one asked for


def read_next_meeting(text: str, today: date, zone) -> datetime | None:
    """The date and time `下次会议时间` names, or None if it names no day or no time.
    Linear: each position is tried once by anchored patterns over at most 300 characters."""
    text = text[:MAX_TEXT]
    day = None
    for pos in range(len(text)):
        found = match_date(text, pos, today)
        if found is not None:
            day, end = found
            text = text[end:]
            break
    if day is None:
        return None
    m = _TIME.search(text)
    if m is None:
        return None
    hour = int(m["h"])
    minute = int(m["m"] or m["m2"] or (30 if m["half_hour"] else 0))
    if (m["half"] in ("下午", "晚上") or (m["ampm"] or "").lower() == "pm") and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return datetime.combine(day, time(hour, minute), zone)


def check(app: App, start: datetime) -> Wanted:
    """Can the meeting be held then? If not, the earliest allowed time: the same time of
    day on the first working day that the notice rule allows."""
    zone = app.settings.tz
    calendar = WorkCalendar(zone)
    allowed = earliest_start(app, app.clock.now())
    blocked = ""
    if not calendar.is_working_day(start.astimezone(zone).date()):
        blocked = "holiday"
    elif start < allowed:
        blocked = "notice"
    candidate = start
    while candidate < allowed or not calendar.is_working_day(candidate.astimezone(zone).date()):
        candidate += timedelta(days=1)
    return Wanted(start, blocked, candidate)


@dataclass(frozen=True)
class FollowUp:
    """What became of the minutes' 下次会议时间: `said` for the history and the command line
    ("" if nothing), and for the recorder's answer the meeting scheduled, or the time the
    coordinator was asked to hold it at instead (and why: "notice" or "holiday")."""

    said: str = ""
    scheduled: Meeting | None = None
    asked: object = None  # the coordinator (a Person) asked about another time
    wanted: Wanted | None = None


def follow_up(session: Session, app: App, minutes: Minutes, origin: Origin) -> FollowUp:
    """After minutes are published: schedule the next meeting they name, or ask the
    coordinator."""
    meeting = minutes.meeting
    collab = meeting.collaboration
    if collab is None or collab.status is not CollabStatus.ACTIVE or not minutes.next_meeting:
        return FollowUp()
    zone = app.settings.tz
    start = read_next_meeting(minutes.next_meeting, app.clock.now().astimezone(zone).date(), zone)
    if start is None or _already(session, meeting, start):
        return FollowUp()
    wanted = check(app, start)
    if wanted.blocked:
        queue_mail(
            session,
            app,
            kind="next_meeting_question",
            dedupe_key=f"next_meeting:{minutes.id}:{start.isoformat()}",
            to=collab.coordinator,
            context={"collab": collab, "meeting": meeting, "wanted": wanted},
            collaboration_id=collab.id,
            meeting_id=meeting.id,
        )
        shown = wanted.earliest.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        why = "a holiday" if wanted.blocked == "holiday" else "too short notice"
        said = f"{why}; asked {collab.coordinator.name} to hold it {shown} instead"
        return FollowUp(said, asked=collab.coordinator, wanted=wanted)
    scheduled = schedule_next(session, app, meeting, start, origin)
    said = f"meeting {scheduled.id} scheduled {start.astimezone(zone):%Y-%m-%d %H:%M}"
    return FollowUp(said, scheduled=scheduled)


def _already(session: Session, meeting: Meeting, start: datetime) -> bool:
    """A correction of the minutes (version 2) does not schedule the same meeting twice."""
    return (
        session.scalar(
            select(Meeting.id).where(
                Meeting.collaboration_id == meeting.collaboration_id,
                Meeting.title == meeting.title,
                Meeting.starts_at == start,
            )
        )
        is not None
    )


def schedule_next(
    session: Session, app: App, meeting: Meeting, start: datetime, origin: Origin
) -> Meeting:
    """The same meeting again at `start`; its agenda: every open item of the collaboration."""
    collab = meeting.collaboration
    items = query_items(session, ItemFilter(collab=collab, statuses=OPEN_STATUSES))
    agenda = [
        AgendaSpec(topic=f"#{item.number} {item.description}"[:300], owner=item.owner.email)
        for item in items
    ]
    spec = MeetingSpec(
        collab=collab.code,
        title=meeting.title,
        start=start.isoformat(),
        duration=meeting.duration_minutes,
        location=meeting.location or None,
        online_url=meeting.online_url or None,
        host=meeting.host.email if meeting.host else None,
        recorder=meeting.recorder.email if meeting.recorder else None,
        attendees=[a.person.email for a in meeting.attendees if a.person is not None],
        agenda=agenda,
    )
    return schedule(session, app, spec, origin).meeting


def answer_question(ctx: ReplyContext) -> Decision:
    """The coordinator's reply to "the next meeting cannot be held then": `同意` / `OK`
    schedules it at the earliest allowed time (computed again now); anything else is read
    as item commands, like any reply."""
    verdict = ctx.parsed.minutes
    if verdict is None or verdict.verdict != "confirmed" or ctx.answered is None:
        return ctx.read_as_item_commands()
    meeting = ctx.session.get(Meeting, ctx.answered.meeting_id)
    minutes = ctx.session.scalar(
        select(Minutes)
        .where(Minutes.meeting_id == meeting.id)
        .order_by(Minutes.version.desc())
        .limit(1)
    )
    zone = ctx.app.settings.tz
    today = ctx.app.clock.now().astimezone(zone).date()
    asked = read_next_meeting(minutes.next_meeting, today, zone) if minutes else None
    if asked is None:
        return ctx.read_as_item_commands()
    start = check(ctx.app, asked).earliest
    if _already(ctx.session, meeting, start):
        return InboundStatus.IGNORED, f"the next meeting at {start.isoformat()} exists already"
    scheduled = schedule_next(ctx.session, ctx.app, meeting, start, ctx.origin)
    return InboundStatus.APPLIED, f"next meeting scheduled: meeting {scheduled.id} at {start}"
