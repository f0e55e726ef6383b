"""Asking the recorder for the minutes: once per meeting when it ends (the tick job), or again
by hand (`collabd minutes request`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import DataError
from ..ledger.items import ensure_active
from ..mail.outbox import queue_mail
from ..store.models import Meeting, MinutesRequest
from ..store.upsert import dialect_insert
from .form import empty_form, form_context

if TYPE_CHECKING:
    from ..app import App

RULE_ID = "minutes.request"


def request_minutes(
    session: Session,
    app: App,
    meeting: Meeting,
    *,
    again: bool = False,
    now: datetime | None = None,
) -> MinutesRequest | None:
    """Mail the recorder the fill-in form. The first request per meeting is recorded in
    `minutes_requests` (unique per meeting, so replicas or a re-run tick cannot ask twice);
    `again=True` sends another one and counts it. None if it was already asked."""
    ensure_active(meeting.collaboration)
    recorder = meeting.recorder
    if recorder is None:
        raise DataError(f"meeting {meeting.id} ({meeting.title}) has no recorder (记录人)")
    now = now or app.clock.now()
    insert = dialect_insert(session.bind.dialect.name)
    created = session.execute(
        insert(MinutesRequest)
        .values(
            meeting_id=meeting.id,
            recorder_id=recorder.id,
            requested_at=now,
            sent_count=1,
            last_sent_at=now,
        )
        .on_conflict_do_nothing()
        .returning(MinutesRequest.id)
    ).scalar_one_or_none()
    request = session.scalar(select(MinutesRequest).where(MinutesRequest.meeting_id == meeting.id))
    assert request is not None
    if created is None:
        if not again:
            return None
        request.sent_count += 1
        request.last_sent_at = now
        request.recorder_id = recorder.id
    queue_mail(
        session,
        app,
        now=now,
        kind="minutes_request",
        dedupe_key=f"minutes-request:{meeting.id}:{request.sent_count}",
        to=recorder,
        context={
            **form_context(meeting, empty_form(recorder.locale), recorder.locale),
            "reminder": 0,
            "requested_at": request.requested_at,
        },
        collaboration_id=meeting.collaboration_id,
        meeting_id=meeting.id,
        rule_id=RULE_ID,
        rule_level=request.sent_count - 1,
    )
    return request


def remind_about_minutes(
    session: Session,
    app: App,
    request: MinutesRequest,
    level: int,
    *,
    rule_id: str = "minutes.submit_within",
    now: datetime | None = None,
) -> bool:
    """For the rules engine, when the minutes are late: level 1 reminds the recorder, level 2
    and up tells the host (the coordinator if the meeting has none) — each with the form, so
    a reply with the minutes publishes them. Once per level; False if already queued."""
    meeting = request.meeting
    if level <= 1:
        to = meeting.recorder or request.recorder
    else:
        to = meeting.host or meeting.collaboration.coordinator
    return queue_mail(
        session,
        app,
        now=now or app.clock.now(),
        kind="minutes_request",  # a reply to it is the filled form, like the request's
        dedupe_key=f"minutes-reminder:{meeting.id}:{level}",
        to=to,
        context={
            **form_context(meeting, empty_form(to.locale), to.locale),
            "reminder": level,
            "requested_at": request.requested_at,
        },
        collaboration_id=meeting.collaboration_id,
        meeting_id=meeting.id,
        rule_id=rule_id,
        rule_level=level,
    )
