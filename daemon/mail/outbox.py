"""The outbox: mail is queued in the ledger's transaction, and sent afterwards.

Queueing in the same transaction as the change means a notification exists if and only if
the change does. The unique dedupe key means it exists at most once. The sender claims rows
(FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas never take the same row; SQLite has one
writer at a time anyway), sends, and marks each row sent right after the server accepted it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import getaddresses

from sqlalchemy import Connection, Row, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..clock import Clock
from ..store import Database
from ..store.models import OutboxMessage, OutboxStatus, Person
from ..store.types import UTCDateTime
from .compose import Attachment, CalendarPart, compose
from .render import Renderer
from .tokens import ReplyTokens
from .transport import Envelope, Outgoing, PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
RETRY_BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)
# A 4xx is retried with backoff until the mail is this old, then recorded as failed (and the
# coordinator told, see rules/failures.py): a mail that cannot go out must not vanish quietly.
RETRY_DEADLINE = timedelta(days=2)


@dataclass(frozen=True)
class MailIdentity:
    """Who collabd is on the wire, and how it signs the way back (reply tokens)."""

    name: str
    address: str
    tokens: ReplyTokens

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


def enqueue(
    session: Session,
    *,
    renderer: Renderer,
    identity: MailIdentity,
    now: datetime,
    kind: str,
    dedupe_key: str,
    to: Person,
    context: dict,
    collaboration_id: int | None = None,
    item_id: int | None = None,
    meeting_id: int | None = None,
    minutes_id: int | None = None,
    rule_id: str | None = None,
    rule_level: int | None = None,
    not_before: datetime | None = None,
    headers: dict[str, str] | None = None,
    calendar: CalendarPart | None = None,
    attachments: Sequence[Attachment] = (),
) -> bool:
    """Queue one mail to one person, in their locale. False if it was already queued.

    `rule_id`/`rule_level` record which rule and escalation level decided to send it;
    `item_id`, `meeting_id` and `minutes_id` what it is about (a reply to it is routed by
    its `kind` and these, see mail/routes.py)."""
    mail = renderer.render(kind, to.locale, recipient=to, **context)
    token = identity.tokens.issue(to.id, collaboration_id, now)
    message_id = identity.tokens.message_id(token, dedupe_key)
    raw = compose(
        mail,
        sender_name=identity.name,
        sender_address=identity.address,
        to=[(to.name, to.email)],
        message_id=message_id,
        date=now,
        kind=kind,
        reply_to=identity.tokens.reply_address(token),
        extra_headers=headers,
        calendar=calendar,
        attachments=attachments,
    )
    values = dict(
        dedupe_key=dedupe_key,
        message_id=message_id,
        kind=kind,
        sender=identity.address,
        recipients=to.email,
        subject=mail.subject,
        raw=raw,
        collaboration_id=collaboration_id,
        item_id=item_id,
        meeting_id=meeting_id,
        minutes_id=minutes_id,
        rule_id=rule_id,
        rule_level=rule_level,
        status=OutboxStatus.PENDING,
        not_before=not_before or now,
        created_at=now,
        attempts=0,
        last_error="",
    )
    statement = _INSERT_IF_NEW[session.bind.dialect.name]
    return session.execute(statement, values).scalar_one_or_none() is not None


# Built once: the statement compiles once per dialect, the values go in as parameters.
# No row back means the dedupe key existed and nothing was queued.
# On the Table, not the mapped class: a plain INSERT, without the ORM's bulk machinery.
_OUTBOX = OutboxMessage.__table__
_INSERT_IF_NEW = {
    name: dialect.insert(_OUTBOX).on_conflict_do_nothing().returning(_OUTBOX.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# What the sender needs of a claimed row; plain rows, not ORM objects (cheaper per mail).
_CLAIMED = (
    OutboxMessage.id,
    OutboxMessage.message_id,
    OutboxMessage.kind,
    OutboxMessage.sender,
    OutboxMessage.recipients,
    OutboxMessage.raw,
)


def claim_due(db: Database, now: datetime, limit: int) -> list[Row]:
    """Take up to `limit` due rows for this process, for the lease's length."""
    worker = _worker_name()
    with db.transaction() as session:
        query = (
            select(*_CLAIMED)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.not_before <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.execute(query))
        if rows:  # one UPDATE for the whole batch, not one per row
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in rows]))
                .values(claimed_by=worker, claimed_until=now + CLAIM_LEASE)
                .execution_options(synchronize_session=False)
            )
        return rows


def send_due(db: Database, outgoing: Outgoing, clock: Clock, limit: int = 500) -> SendReport:
    """Send what is due now on one connection; each row is settled in its own commit."""
    report = SendReport()
    rows = claim_due(db, clock.now(), limit)
    if not rows:
        return report
    settled: set[int] = set()
    try:
        # One ledger connection for the batch's "sent" marks (each still its own commit,
        # right after the server accepted the mail): a session per mail cost a third of
        # the throughput (bench/tick.py).
        with outgoing.session() as connection, db.engine.connect() as ledger:
            for row in rows:
                _send_one(db, connection, clock, row, report, ledger)
                settled.add(row.id)
    except TemporaryFailure as exc:  # could not connect at all: give the claims back
        log.warning("outbox: cannot send now: %s", exc)
        for row in rows:
            if row.id not in settled:
                status = _settle(db, row, clock.now(), temporary=str(exc))
                gave_up = status is OutboxStatus.FAILED  # past RETRY_DEADLINE
                (report.failed if gave_up else report.deferred).append((row.message_id, str(exc)))
    return report


def _send_one(
    db: Database,
    outgoing: Outgoing,
    clock: Clock,
    row: Row,
    report: SendReport,
    ledger: Connection | None = None,
) -> None:
    envelope = Envelope(
        sender=row.sender,
        recipients=[address for _, address in getaddresses([row.recipients])],
        raw=row.raw,
        message_id=row.message_id,
    )
    try:
        outgoing.send(envelope)
    except TemporaryFailure as exc:
        status = _settle(db, row, clock.now(), temporary=str(exc), retry_after=exc.retry_after)
        gave_up = status is OutboxStatus.FAILED  # past RETRY_DEADLINE
        (report.failed if gave_up else report.deferred).append((row.message_id, str(exc)))
        log.warning("outbox: %s to %s deferred: %s", row.message_id, row.recipients, exc)
        return
    except PermanentFailure as exc:
        _settle(db, row, clock.now(), permanent=str(exc))
        report.failed.append((row.message_id, str(exc)))
        log.error("outbox: %s to %s failed: %s", row.message_id, row.recipients, exc)
        return
    if ledger is not None:
        _mark_sent(ledger, row, clock.now())
    else:
        _settle(db, row, clock.now())
    report.sent.append(row.message_id)
    log.info("outbox: sent %s (%s) to %s", row.message_id, row.kind, row.recipients)


# Built once: composing the statement per mail cost more than executing it.
_MARK_SENT = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("row_id"))
    .values(
        attempts=OutboxMessage.attempts + 1,
        claimed_by=None,
        claimed_until=None,
        status=OutboxStatus.SENT,
        sent_at=bindparam("sent_at", type_=UTCDateTime()),
        last_error="",
    )
)


def _mark_sent(ledger: Connection, row: Row, now: datetime) -> None:
    """Sent: one UPDATE and its commit on the batch's connection."""
    ledger.execute(_MARK_SENT, {"row_id": row.id, "sent_at": now})
    ledger.commit()


def _settle(
    db: Database,
    row: Row,
    now: datetime,
    *,
    temporary: str = "",
    permanent: str = "",
    retry_after: float | None = None,  # the server's own "come back in" (EWS throttling)
) -> OutboxStatus:
    with db.transaction() as session:
        current = session.get(OutboxMessage, row.id, with_for_update=True)
        assert current is not None
        current.attempts += 1
        current.claimed_by = current.claimed_until = None
        if permanent:
            current.status, current.last_error = OutboxStatus.FAILED, permanent
        elif temporary and now - current.created_at >= RETRY_DEADLINE:
            current.status = OutboxStatus.FAILED
            current.last_error = f"gave up after {current.attempts} attempts: {temporary}"
        elif temporary:
            backoff = RETRY_BACKOFF[min(current.attempts, len(RETRY_BACKOFF)) - 1]
            backoff = max(backoff, timedelta(seconds=retry_after or 0))
            current.not_before, current.last_error = now + backoff, temporary
        else:
            current.status, current.sent_at, current.last_error = OutboxStatus.SENT, now, ""
        return current.status
