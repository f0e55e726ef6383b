"""Attendees' answers to the minutes (确认 / 有异议), and what silence means.

The rules engine decides *when* (config `[minutes] confirm_within`, `silence`); these
functions decide *what*: `record_verdict` for an answer, `settle_silent_confirmations` for the
silence policy, `pending_confirmations` / `awaiting_minutes` for what it should chase.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..ledger.history import Origin, record
from ..mail.outbox import queue_mail
from ..store.models import (
    Confirmation,
    Minutes,
    MinutesConfirmation,
    MinutesRequest,
    MinutesStatus,
    Person,
)
from .form import Form, attendee_lines, filled_form, form_context
from .publish import current_minutes, row_views

if TYPE_CHECKING:
    from ..app import App

SILENCE_POLICIES = ("confirmed", "escalate")
SILENCE_RULE = "minutes.silence"


def record_verdict(
    session: Session,
    app: App,
    minutes: Minutes,
    person: Person,
    verdict: str,
    note: str | None,
    origin: Origin,
    settled_by: str = "reply",
) -> tuple[str, Minutes]:
    """Record `confirmed` or `objection` from `person` on the version in force (an answer to
    an older version's mail counts for the current one). Returns (outcome, version):
    outcome is the verdict, or `not_asked` when the person has nothing to confirm.
    An objection is mailed to the recorder and the host at once."""
    current = current_minutes(session, minutes.meeting) or minutes
    confirmation = next((c for c in current.confirmations if c.person_id == person.id), None)
    if confirmation is None:
        return "not_asked", current
    state = Confirmation(verdict)
    now = app.clock.now()
    old = confirmation.state
    confirmation.state = state
    confirmation.note = (note or "").strip()
    confirmation.answered_at = now
    confirmation.source = origin.source[:998]
    confirmation.settled_by = settled_by
    record(
        session,
        origin,
        now,
        entity="minutes",
        entity_id=current.id,
        collaboration_id=current.meeting.collaboration_id,
        action=state.value,
        field=f"confirmation:{person.email}",
        old=old,
        new=state,
        note=confirmation.note,
    )
    if state is Confirmation.OBJECTION:
        tell_about_objection(session, app, current, confirmation)
    return state.value, current


def tell_about_objection(
    session: Session, app: App, minutes: Minutes, confirmation: MinutesConfirmation
) -> int:
    """The recorder and the host get the objection, with the current version as a form to
    correct and send back; not the one who objected (their answer says it was recorded)."""
    meeting = minutes.meeting
    queued = 0
    for person in {p.id: p for p in (meeting.recorder, meeting.host) if p}.values():
        if person.id == confirmation.person_id:
            continue
        queued += queue_mail(
            session,
            app,
            kind="minutes_objection",
            dedupe_key=f"minutes-objection:{confirmation.id}:{confirmation.source}:{person.id}",
            to=person,
            context={
                **form_context(meeting, filled_form(minutes, person.locale), person.locale),
                "minutes": minutes,
                "objector": confirmation.person,
                "note": confirmation.note,
            },
            collaboration_id=meeting.collaboration_id,
            meeting_id=meeting.id,
            minutes_id=minutes.id,
        )
    return queued


def remind_to_confirm(
    session: Session,
    app: App,
    confirmation: MinutesConfirmation,
    level: int,
    *,
    rule_id: str = "minutes.confirm_within",
    now: datetime | None = None,
) -> bool:
    """For the rules engine: the minutes again, to one attendee who has not answered, marked
    as a reminder. Once per level; False if already queued or no longer pending."""
    if confirmation.state is not Confirmation.PENDING:
        return False
    minutes, person = confirmation.minutes, confirmation.person
    meeting = minutes.meeting
    return queue_mail(
        session,
        app,
        now=now or app.clock.now(),
        kind="minutes_published",  # a reply to it is a verdict, like the minutes mail's
        dedupe_key=f"minutes-confirm-reminder:{confirmation.id}:{level}",
        to=person,
        context={
            **form_context(meeting, Form(), person.locale),
            "minutes": minutes,
            "rows": row_views(session, minutes),
            "ask": "ask",
            "carried_state": "",
            "attendees": attendee_lines(meeting),
            "reminder": level,
        },
        collaboration_id=meeting.collaboration_id,
        meeting_id=meeting.id,
        minutes_id=minutes.id,
        rule_id=rule_id,
        rule_level=level,
    )


def pending_confirmations(session: Session) -> list[MinutesConfirmation]:
    """Attendees who were asked to confirm the version in force and have not answered;
    `asked_at` is where the confirmation window starts."""
    return list(
        session.scalars(
            select(MinutesConfirmation)
            .join(Minutes)
            .where(
                Minutes.status == MinutesStatus.PUBLISHED,
                MinutesConfirmation.state == Confirmation.PENDING,
            )
            .order_by(MinutesConfirmation.asked_at, MinutesConfirmation.id)
        )
    )


def awaiting_minutes(session: Session) -> list[MinutesRequest]:
    """Minutes requests not yet answered by published minutes; `requested_at` is where the
    submission window (`[minutes] submit_within`) starts."""
    return list(
        session.scalars(
            select(MinutesRequest)
            .where(~exists().where(Minutes.meeting_id == MinutesRequest.meeting_id))
            .order_by(MinutesRequest.requested_at)
        )
    )


def settle_silent_confirmations(
    session: Session,
    app: App,
    minutes: Minutes,
    policy: str,
    *,
    now: datetime | None = None,
    asked_before: datetime | None = None,
) -> list[MinutesConfirmation]:
    """Apply the silence policy to the still-pending confirmations of `minutes` (only those
    asked before `asked_before`, if given — the rules engine passes the window's start):

    * `confirmed`: silence counts as consent; each becomes confirmed, settled_by "silence",
      with a history row naming the rule;
    * `escalate`: the host gets one mail listing who has not answered (deduplicated per
      version, so a re-run tick does not send it twice); the states stay pending.

    Returns the confirmations it acted on."""
    if policy not in SILENCE_POLICIES:
        raise ValueError(f"silence policy {policy!r}: use one of {', '.join(SILENCE_POLICIES)}")
    now = now or app.clock.now()
    silent = [
        c
        for c in minutes.confirmations
        if c.state is Confirmation.PENDING
        and (asked_before is None or (c.asked_at is not None and c.asked_at <= asked_before))
    ]
    if not silent or minutes.status is not MinutesStatus.PUBLISHED:
        return []
    origin = Origin.rule(SILENCE_RULE)
    if policy == "confirmed":
        for confirmation in silent:
            confirmation.state = Confirmation.CONFIRMED
            confirmation.settled_by = "silence"
            confirmation.answered_at = now
            confirmation.note = "no answer within the confirmation window: confirmed by rule"
            record(
                session,
                origin,
                now,
                entity="minutes",
                entity_id=minutes.id,
                collaboration_id=minutes.meeting.collaboration_id,
                action="confirmed",
                field=f"confirmation:{confirmation.person.email}",
                old=Confirmation.PENDING,
                new=Confirmation.CONFIRMED,
                note=confirmation.note,
            )
        return silent
    meeting = minutes.meeting
    host = meeting.host or meeting.collaboration.coordinator
    queue_mail(
        session,
        app,
        now=now,
        kind="minutes_silence",
        dedupe_key=f"minutes-silence:{minutes.id}",
        to=host,
        context={"meeting": meeting, "minutes": minutes, "silent": silent},
        collaboration_id=meeting.collaboration_id,
        meeting_id=meeting.id,
        minutes_id=minutes.id,
        rule_id=SILENCE_RULE,
        rule_level=1,
    )
    return silent
