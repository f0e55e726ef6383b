"""When a reply token stops working before its lifetime: its object has closed.

A token is bound to one collabd mail, and so to what that mail was about (the outbox row's
item, meeting, minutes, or acceptance round). Once that is over, answering the mail can only
do harm: `#3 进行中` reopening an item the receiver has accepted, an RSVP to a meeting that
has taken place, a verdict on a round that was decided. The reply is then refused with an
answer that says what closed and what to do instead (its person only: reading.py checks
the sender, and routes.py has dropped mail the MTA calls forged, before this is asked).

An archived collaboration is not decided here: the handlers answer per item ("本协作已归
档"), and the closing retrospective still takes answers after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..closing.acceptance import latest_request
from ..mail.answer import CommandResult
from ..store.models import (
    AcceptanceRequest,
    ActionItem,
    Collaboration,
    CollabStatus,
    ItemStatus,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesStatus,
    OutboxMessage,
    Verdict,
)

T = TypeVar("T")

# The meeting's own mails: after it has taken place they have nothing left to answer. Its
# minutes mails (request, published, reminders) carry its id too and stay open.
MEETING_MAIL = frozenset(
    {"meeting_invite", "meeting_reminder", "meeting_answer_notice", "meeting_accepted"}
)
ACCEPTANCE_MAIL = ("acceptance-request:", "acceptance-reminder:")


@dataclass(frozen=True)
class Ended:
    result: CommandResult  # the answer's line, in the reader's words (the templates)
    why: str  # for the inbound log


def ended(session: Session, answered: OutboxMessage | None, now: datetime) -> Ended | None:
    if answered is None:
        return None
    return (
        _collaboration(session, answered)
        or _meeting(session, answered, now)
        or _minutes(session, answered)
        or _round(session, answered)
        or _item(session, answered)
    )


def _get(session: Session, model: type[T], key: int | None) -> T | None:
    """The row the answered mail points at, or None when it points at none: without an id,
    no query (session.get(Model, 0) still asks the database, a round trip per reply for each
    kind of thing most mails are not about)."""
    return None if key is None else session.get(model, key)


def _collaboration(session: Session, answered: OutboxMessage) -> Ended | None:
    collab = _get(session, Collaboration, answered.collaboration_id)
    if collab is None or collab.status is not CollabStatus.CANCELLED:
        return None
    return Ended(
        CommandResult("token_ended", word="collab_cancelled", due=collab.coordinator.name),
        f"collaboration {collab.code} was called off",
    )


def _meeting(session: Session, answered: OutboxMessage, now: datetime) -> Ended | None:
    meeting = _get(session, Meeting, answered.meeting_id)
    if meeting is None:
        return None
    contact = meeting.host.name if meeting.host else meeting.organizer_email
    if meeting.status is MeetingStatus.CANCELLED:
        return Ended(
            CommandResult("token_ended", word="meeting_cancelled", due=contact),
            f"meeting {meeting.id} was cancelled",
        )
    over = meeting.status is MeetingStatus.ENDED or (
        meeting.starts_at + timedelta(minutes=meeting.duration_minutes) <= now
    )
    if over and answered.kind in MEETING_MAIL:
        return Ended(
            CommandResult("token_ended", word="meeting_ended", due=contact),
            f"meeting {meeting.id} has taken place",
        )
    return None


def _minutes(session: Session, answered: OutboxMessage) -> Ended | None:
    minutes = _get(session, Minutes, answered.minutes_id)
    if minutes is None or minutes.status is not MinutesStatus.SUPERSEDED:
        return None
    newest = session.scalar(
        select(Minutes.version)
        .where(Minutes.meeting_id == minutes.meeting_id)
        .order_by(Minutes.version.desc())
        .limit(1)
    )
    return Ended(
        CommandResult("token_ended", word="minutes_superseded", progress=newest),
        f"minutes version {minutes.version} was replaced by version {newest}",
    )


def _round(session: Session, answered: OutboxMessage) -> Ended | None:
    """An acceptance request of a round already decided (the item's later rounds have their
    own mail)."""
    key = answered.dedupe_key
    if not key.startswith(ACCEPTANCE_MAIL):
        return None
    request_id = key.split(":")[1]
    request = session.get(AcceptanceRequest, int(request_id)) if request_id.isdigit() else None
    if request is None or request.verdict is Verdict.PENDING:
        return None
    if request.verdict is Verdict.ACCEPTED:
        return _accepted(request.item)
    return Ended(
        CommandResult("token_ended", word="round_decided", item=request.item.number),
        f"acceptance round {request.round} of item #{request.item.number} was decided",
    )


def _item(session: Session, answered: OutboxMessage) -> Ended | None:
    item = _get(session, ActionItem, answered.item_id)
    if item is None:
        return None
    if item.status is ItemStatus.CANCELLED:
        return Ended(
            CommandResult(
                "token_ended",
                word="item_cancelled",
                item=item.number,
                due=item.collaboration.coordinator.name,
            ),
            f"item #{item.number} was cancelled",
        )
    latest = latest_request(session, item)
    if latest is not None and latest.verdict is Verdict.ACCEPTED:
        return _accepted(item)
    return None


def _accepted(item: ActionItem) -> Ended:
    return Ended(
        CommandResult(
            "token_ended",
            word="item_accepted",
            item=item.number,
            due=item.collaboration.coordinator.name,
        ),
        f"item #{item.number} has been accepted",
    )
