"""How much one organizer may put on collabd's calendar (outside attack F5).

Every registered meeting costs its attendees a reminder and its recorder a minutes request;
five REQUESTs (daily, weekly on every weekday, yearly on every day …) registered 1,448
meetings in one collaboration. So a REQUEST that would take a collaboration over
[calendar] max_open_meetings (meetings still to come), or an organizer over
max_series_per_organizer (series with an occurrence to come), is refused as a whole and the
organizer is told the limit and what to do. Updates of what is already registered pass.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..mail.answer import within_rate
from ..mail.outbox import queue_mail
from ..store.models import Collaboration, InboundStatus, Meeting, MeetingStatus, Person

if TYPE_CHECKING:
    from datetime import datetime

    from ..app import App
    from ..mail.envelope import Envelope

Decision = tuple[InboundStatus, str]


def _coming(now: datetime):
    return (Meeting.status == MeetingStatus.SCHEDULED, Meeting.starts_at > now)


def over_limit(
    session: Session,
    app: App,
    organizer: Person,
    collab: Collaboration | None,
    adding: int,
    *,
    new_series: bool,
) -> dict[str, object] | None:
    """Which limit registering `adding` more meetings would break (None: none does)."""
    settings, now = app.settings.calendar, app.clock.now()
    if new_series:
        series = session.scalar(
            select(func.count(func.distinct(Meeting.series_uid))).where(
                Meeting.organizer_email == organizer.email,
                Meeting.series_uid.is_not(None),
                *_coming(now),
            )
        )
        if series >= settings.max_series_per_organizer:
            return {"limit": "series", "max": settings.max_series_per_organizer, "now": series}
    if collab is not None:
        open_meetings = session.scalar(
            select(func.count(Meeting.id)).where(
                Meeting.collaboration_id == collab.id, *_coming(now)
            )
        )
        if open_meetings + adding > settings.max_open_meetings:
            return {
                "limit": "meetings",
                "max": settings.max_open_meetings,
                "now": open_meetings,
                "adding": adding,
                "collab": collab.code,
            }
    return None


def refuse(
    session: Session,
    app: App,
    envelope: Envelope,
    organizer: Person,
    title: str,
    uid: str,
    broken: dict[str, object],
) -> Decision:
    """Register nothing; tell the organizer which limit, in their language."""
    if broken["limit"] == "series":
        why = (
            f"{organizer.email} already has {broken['now']} series with meetings to come "
            f"([calendar] max_series_per_organizer = {broken['max']})"
        )
    else:
        why = (
            f"{broken['collab']} has {broken['now']} meetings to come and this adds "
            f"{broken['adding']} ([calendar] max_open_meetings = {broken['max']})"
        )
    told = ""
    if within_rate(session, app, "meeting_over_limit", organizer, envelope.message_id):
        queue_mail(
            session,
            app,
            kind="meeting_over_limit",
            dedupe_key=f"over-limit:{hashlib.sha256(uid.encode()).hexdigest()[:32]}:"
            f"{envelope.message_id}",
            to=organizer,
            context={"title": title or "", **broken},
        )
        told = "; the organizer is told"
    return InboundStatus.IGNORED, f"meeting {title!r} not registered: {why}{told}"
