"""Before the meeting (a tick job): attendees who have not answered are reminded
`meetings.remind_unanswered` before the start, and everyone on the day at
`meetings.day_reminder_at` (or `day_reminder_lead` before a meeting that starts earlier).

The day's reminder is one mail per person and day, listing all that day's meetings: a
reminder per meeting let whoever registers many series mail each invitee as often a day
(outside attack F5). Each reminder's outbox key names the person and the day (the
unanswered one: the meeting, the person and the start), so ticks can run as often as they
like (and on several replicas) and a meeting moved to another day is reminded anew.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..ledger.items import still_active
from ..mail.outbox import queue_mail
from ..store.models import Meeting, MeetingStatus, Person, Rsvp
from .views import meeting_view

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..app import App

HORIZON = timedelta(days=8)  # nothing is due earlier than this before a meeting


def day_reminder_due(app: App, starts_at: datetime) -> datetime:
    settings, zone = app.settings.meetings, app.settings.tz
    hours, minutes = map(int, settings.day_reminder_at.split(":"))
    at_time = datetime.combine(starts_at.astimezone(zone).date(), time(hours, minutes), zone)
    return min(at_time, starts_at - settings.day_reminder_lead.as_timedelta())


def _view(app: App, meeting: Meeting) -> dict:
    # A meeting someone registered from their own calendar shows its title and place as
    # they typed them, links defanged in the template (outside attack F2).
    view = meeting_view(meeting, app.settings.tz)
    view["outside"] = meeting.organizer_email != app.identity.address
    return view


def meeting_reminders(app: App, now: datetime) -> list[str]:
    queued: list[str] = []
    settings = app.settings.meetings
    with app.db.transaction() as session:
        meetings = session.scalars(
            select(Meeting)
            .where(
                Meeting.status == MeetingStatus.SCHEDULED,
                Meeting.starts_at > now,
                Meeting.starts_at <= now + HORIZON,
                still_active(Meeting.collaboration_id),  # archived: no more reminders
            )
            .order_by(Meeting.starts_at, Meeting.id)
        )
        days: dict[tuple[int, date], list[Meeting]] = {}
        people: dict[int, Person] = {}
        for meeting in meetings:
            # Answers are only tracked for meetings collabd organizes.
            if (
                meeting.organizer_email == app.identity.address
                and now >= meeting.starts_at - settings.remind_unanswered.as_timedelta()
            ):
                stamp = meeting.starts_at.strftime("%Y%m%dT%H%MZ")
                for attendee in meeting.attendees:
                    if attendee.person is None or attendee.rsvp is not Rsvp.NEEDS_ACTION:
                        continue
                    key = f"meeting:{meeting.id}:remind-unanswered:{attendee.person.id}:{stamp}"
                    if _remind(session, app, now, attendee.person, [meeting], "unanswered", key):
                        queued.append(
                            f"meeting {meeting.id} reminder (unanswered) to {attendee.person.email}"
                        )
            day = meeting.starts_at.astimezone(app.settings.tz).date()
            for attendee in meeting.attendees:
                if attendee.person is not None and attendee.rsvp is not Rsvp.DECLINED:
                    people[attendee.person.id] = attendee.person
                    days.setdefault((attendee.person.id, day), []).append(meeting)
        for (person_id, day), todays in days.items():
            # due at the earliest of the day's reminder times: all the day's meetings in one
            if now < min(day_reminder_due(app, m.starts_at) for m in todays):
                continue
            person = people[person_id]
            key = f"meetings-day:{person.id}:{day:%Y%m%d}"
            if _remind(session, app, now, person, todays, "day", key):
                ids = ", ".join(str(m.id) for m in todays)
                noun = "meeting" if len(todays) == 1 else "meetings"
                queued.append(f"{noun} {ids} reminder (day) to {person.email}")
    return queued


def _remind(
    session: Session,
    app: App,
    now: datetime,
    person: Person,
    meetings: list[Meeting],
    reason: str,
    dedupe_key: str,
) -> bool:
    views = [_view(app, m) for m in meetings]
    codes = {v["collab"] for v in views}
    # the subject's [协作 …] tag only when every meeting listed is of one collaboration
    code = next(iter(codes)) if len(codes) == 1 else None
    return queue_mail(
        session,
        app,
        now=now,
        kind="meeting_reminder",
        dedupe_key=dedupe_key,
        to=person,
        context={
            "meeting": views[0],
            "meetings": views,
            "collab": code,
            "reason": reason,
        },
        collaboration_id=meetings[0].collaboration_id if len(codes) == 1 else None,
        meeting_id=meetings[0].id,
        rule_id=f"meeting_reminder_{reason}",
        rule_level=0,
    )
