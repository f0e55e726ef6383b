"""Chasing minutes (seed: 会议结束后1个工作日内整理纪要并发送确认): the recorder, then the
host, when no minutes are published in time; and attendees who have not confirmed.

The minutes themselves (requests, publishing, confirmations by reply) are another module's
job; these rules only chase. They scan meetings of the last weeks through the indexed
`starts_at`, so their cost follows recent meetings, not the ledger."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..ledger.history import Origin, record
from ..ledger.items import still_active
from ..store.models import (
    Confirmation,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesConfirmation,
    MinutesStatus,
    RuleSchedule,
)
from .explain import explain
from .reasons import reason

if TYPE_CHECKING:
    from .evaluation import Pass

MISSING = "minutes.missing"
UNCONFIRMED = "minutes.unconfirmed"
LOOKBACK = timedelta(days=45)


def run(run: Pass) -> None:
    _missing(run)
    _unconfirmed(run)


def _state(run: Pass, rule_id: str, subject: str) -> RuleSchedule:
    row = run.session.scalar(
        select(RuleSchedule).where(RuleSchedule.rule_id == rule_id, RuleSchedule.subject == subject)
    )
    if row is None:
        row = RuleSchedule(
            rule_id=rule_id,
            subject=subject,
            episode="",
            level=0,
            rule_version="",
            snapshot="",
            updated_at=run.now,
        )
        run.session.add(row)
    return row


def _missing(run: Pass) -> None:
    spec, calendar = run.rules.spec.minutes, run.rules.calendar
    meetings = run.session.scalars(
        select(Meeting).where(
            Meeting.starts_at >= run.now - LOOKBACK,
            Meeting.starts_at <= run.now,
            Meeting.status != MeetingStatus.CANCELLED,
            still_active(Meeting.collaboration_id),  # archived: its minutes are closed
        )
    )
    for meeting in meetings:
        end = meeting.starts_at + timedelta(minutes=meeting.duration_minutes)
        first = calendar.add(end, spec.submit_within)
        if first > run.now:
            continue
        published = run.session.scalar(
            select(Minutes.id).where(
                Minutes.meeting_id == meeting.id, Minutes.status == MinutesStatus.PUBLISHED
            )
        )
        if published is not None:
            continue
        second = calendar.add(first, spec.host_after)
        level = 2 if second <= run.now else 1
        row = _state(run, MISSING, f"meeting:{meeting.id}")
        if row.level >= level:
            continue
        row.level, row.last_due_at, row.updated_at = level, run.now, run.now
        people = [meeting.recorder] if level == 1 else [meeting.recorder, meeting.host]
        why = reason(
            "minutes_missing",
            ended=end.astimezone(run.rules.zone),
            within=spec.submit_within,
            host_told=level == 2,
        )
        for person in {p.id: p for p in people if p is not None}.values():
            run.send(
                rule=MISSING,
                level=level,
                kind="minutes_missing",
                key=f"{MISSING}:m{meeting.id}:L{level}:p{person.id}",
                to=person,
                context={
                    "meeting": meeting,
                    "collab": meeting.collaboration,
                    "level": level,
                    "ended": end,
                    "why": explain(why, person.locale),
                },
                subject=f"meeting {meeting.id}",
                reasons=[why],
                collaboration_id=meeting.collaboration_id,
                meeting_id=meeting.id,
            )


def _unconfirmed(run: Pass) -> None:
    spec, calendar = run.rules.spec.minutes, run.rules.calendar
    published = run.session.scalars(
        select(Minutes).where(
            Minutes.status == MinutesStatus.PUBLISHED,
            Minutes.published_at >= run.now - LOOKBACK,
            Minutes.published_at <= run.now,
            Minutes.meeting_id.in_(
                select(Meeting.id).where(still_active(Meeting.collaboration_id))
            ),
        )
    )
    for minutes in published:
        deadline = calendar.add(minutes.published_at, spec.confirm_within)
        if deadline > run.now:
            continue
        row = _state(run, UNCONFIRMED, f"minutes:{minutes.id}")
        if row.level >= 1:
            continue
        pending = [c for c in minutes.confirmations if c.state is Confirmation.PENDING]
        row.level, row.last_due_at, row.updated_at = 1, run.now, run.now
        if not pending:
            continue
        why = {
            "published": minutes.published_at.astimezone(run.rules.zone),
            "within": spec.confirm_within,
        }
        if spec.silence == "confirmed":
            _confirm_by_silence(run, minutes, pending, why)
            continue
        meeting = minutes.meeting
        row.snapshot = json.dumps([c.person_id for c in pending])
        for confirmation in pending:
            _chase(run, minutes, meeting, confirmation.person, [confirmation], why)
        if meeting.host is not None:
            _chase(run, minutes, meeting, meeting.host, pending, {**why, "host_told": True})


def _chase(run, minutes, meeting, person, pending, facts: dict) -> None:
    why = reason("minutes_unconfirmed", **facts)
    run.send(
        rule=UNCONFIRMED,
        level=1,
        kind="minutes_unconfirmed",
        key=f"{UNCONFIRMED}:n{minutes.id}:L1:p{person.id}",
        to=person,
        context={
            "meeting": meeting,
            "collab": meeting.collaboration,
            "minutes": minutes,
            "pending": [c.person for c in pending],
            "why": explain(why, person.locale),
        },
        subject=f"minutes {minutes.id}",
        reasons=[why],
        collaboration_id=meeting.collaboration_id,
        meeting_id=meeting.id,
        minutes_id=minutes.id,
    )


def _confirm_by_silence(
    run, minutes: Minutes, pending: list[MinutesConfirmation], facts: dict
) -> None:
    """`silence = "confirmed"`: no answer in time counts as agreement, and says so."""
    origin = Origin.rule(UNCONFIRMED, 1)
    for confirmation in pending:
        confirmation.state = Confirmation.CONFIRMED
        confirmation.answered_at = run.now
        confirmation.note = "未在时限内回复，视为确认 (silence counts as confirmed)"
        record(
            run.session,
            origin,
            run.now,
            entity="minutes",
            entity_id=minutes.id,
            collaboration_id=minutes.meeting.collaboration_id,
            action="confirmed",
            field="confirmation",
            old="pending",
            new="confirmed",
            note=f"{confirmation.person.email}: "
            + explain(reason("minutes_unconfirmed", **facts), confirmation.person.locale),
        )
        run.note(
            UNCONFIRMED,
            1,
            "confirmed",
            f"minutes {minutes.id}",
            [
                reason("minutes_unconfirmed", **facts),
                reason("silence_confirmed", name=confirmation.person.name),
            ],
        )
