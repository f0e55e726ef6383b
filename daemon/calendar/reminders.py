"""Before the meeting (a tick job): attendees who have not answered are reminded
`meetings.remind_unanswered` before the start, and everyone on the day at
`meetings.day_reminder_at` (or `day_reminder_lead` before a meeting that starts earlier).

Each reminder's outbox key names the meeting, the person and the start time, so ticks can
run as often as they like (and on several replicas) and a moved meeting is reminded anew.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..ledger.items import still_active
from ..mail.outbox import queue_mail
from ..store.models import Meeting, MeetingStatus, Rsvp
from .views import meeting_view

if TYPE_CHECKING:
    from ..app import App

HORIZON = timedelta(days=8)  # nothing is due earlier than this before a meeting


def day_reminder_due(app: App, starts_at: datetime) -> datetime:
    settings, zone = app.settings.meetings, app.settings.tz
    hours, minutes = map(int, settings.day_reminder_at.split(":"))
    at_time = datetime.combine(starts_at.astimezone(zone).date(), time(hours, minutes), zone)
    return min(at_time, starts_at - settings.day_reminder_lead.as_timedelta())


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
            .order_by(Meeting.starts_at)
        )
        for meeting in meetings:
            stamp = meeting.starts_at.strftime("%Y%m%dT%H%MZ")
            view = None
            due = []
            # Answers are only tracked for meetings collabd organizes.
            if (
                meeting.organizer_email == app.identity.address
                and now >= meeting.starts_at - settings.remind_unanswered.as_timedelta()
            ):
                due += [("unanswered", a) for a in meeting.attendees if a.rsvp is Rsvp.NEEDS_ACTION]
            if now >= day_reminder_due(app, meeting.starts_at):
                due += [("day", a) for a in meeting.attendees if a.rsvp is not Rsvp.DECLINED]
            for reason, attendee in due:
                if attendee.person is None:
                    continue
                view = view or meeting_view(meeting, app.settings.tz)
                if queue_mail(
                    session,
                    app,
                    now=now,
                    kind="meeting_reminder",
                    dedupe_key=f"meeting:{meeting.id}:remind-{reason}:{attendee.person.id}:{stamp}",
                    to=attendee.person,
                    context={"meeting": view, "reason": reason},
                    collaboration_id=meeting.collaboration_id,
                    meeting_id=meeting.id,
                    rule_id=f"meeting_reminder_{reason}",
                    rule_level=0,
                ):
                    queued.append(
                        f"meeting {meeting.id} reminder ({reason}) to {attendee.person.email}"
                    )
    return queued
