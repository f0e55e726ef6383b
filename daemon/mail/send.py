"""Mail out: the outbox's due rows are claimed, sent, and settled one by one.

The sender claims rows (FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas never take the
same row; SQLite has one writer at a time anyway), marks each in flight before its SMTP
transaction, and marks it sent after the server accepted it. A 4xx is retried with backoff,
a 5xx recorded as failed; an interrupted send is settled by daemon/service/journal.py.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import getaddresses

from sqlalchemy import Connection, Row, bindparam, func, or_, select, update
from sqlalchemy.orm import aliased

from ..clock import Clock
from ..store import Database
from ..store.models import OutboxMessage, OutboxStatus, ServiceReplica
from ..store.types import UTCDateTime
from .transport import Envelope, OutcomeUnknown, Outgoing, PermanentFailure, TemporaryFailure

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


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unreachable: str = ""  # the server could not be reached at all
    error: Exception | None = None  # why (the runner names the fault: unreachable, sign-in)


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
    OutboxMessage.item_id,
    OutboxMessage.rule_id,
    OutboxMessage.meeting_id,
)

# Calendar mail (iMIP REQUEST / CANCEL, calendar/delivery.py): each carries the whole meeting
# under its UID, and a later one for the same meeting and person replaces an earlier one.
CALENDAR_KINDS = ("meeting_invite", "meeting_cancel")


def claim_due(db: Database, now: datetime, limit: int, lease: timedelta = CLAIM_LEASE) -> list[Row]:
    """Take up to `limit` due rows for this process, for the lease's length.

    A row still marked `sending_since` had an attempt whose outcome is unknown (the sender
    died between SMTP and commit): it is not taken here but settled by
    daemon/service/journal.py, which first looks for proof that it went out."""
    worker = _worker_name()
    with db.transaction() as session:
        query = (
            select(*_CLAIMED)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.not_before <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
                OutboxMessage.sending_since.is_(None),
            )
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.execute(query))
        rows = _drop_superseded(session, rows)
        if rows:  # one UPDATE for the whole batch, not one per row
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in rows]))
                .values(claimed_by=worker, claimed_until=now + lease)
                .execution_options(synchronize_session=False)
            )
        return rows


def release_dead_claims(db: Database, now: datetime, stale_before: datetime) -> int:
    """Give back at once the claims of a sender that is gone, instead of letting them run
    out (a 2-minute lease kept 25 never-tried mails waiting after a kill -9): a process of
    this host whose pid no longer exists, or a replica whose heartbeat is older than
    `stale_before`. A row never tried (`sending_since` unset) is free to send again; a
    sender that still lives cannot mark a row it lost (its mark needs the claim), so it
    never sends it. A row caught in flight keeps its mark and goes to the journal now
    (its claim ends here instead of after the lease): the journal lookup settles it, so
    exactly-once holds and the send waits `journal_grace` from its attempt, not the lease
    on top. Returns the rows freed or handed to the journal."""
    with db.transaction() as session:
        holders = session.scalars(
            select(OutboxMessage.claimed_by)
            .where(
                OutboxMessage.claimed_until > now,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .distinct()
        ).all()
        holders = [h for h in holders if h and h != _worker_name()]
        if not holders:
            return 0
        stale = {
            f"{host}:{pid}"
            for host, pid in session.execute(
                select(ServiceReplica.hostname, ServiceReplica.pid).where(
                    ServiceReplica.heartbeat_at < stale_before
                )
            )
        }
        here = f"{socket.gethostname()}:"
        # This host's senders by their pid (a stale row may share a reused pid with a live
        # process); another host's by their heartbeat.
        gone = [h for h in holders if _dead_here(h) or (h in stale and not h.startswith(here))]
        if not gone:
            return 0
        theirs = (
            OutboxMessage.claimed_by.in_(gone),
            OutboxMessage.claimed_until > now,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        freed = session.execute(
            update(OutboxMessage)
            .where(*theirs, OutboxMessage.sending_since.is_(None))
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        in_flight = session.execute(
            update(OutboxMessage)
            .where(*theirs, OutboxMessage.sending_since.is_not(None))
            .values(claimed_until=now - timedelta(microseconds=1))
            .execution_options(synchronize_session=False)
        ).rowcount
    if freed:
        log.warning("outbox: took over %d claim(s) of %s, which is gone", freed, ", ".join(gone))
    if in_flight:
        log.warning(
            "outbox: %d send(s) of %s, which is gone, were in flight: the journal settles them",
            in_flight,
            ", ".join(gone),
        )
    return freed + in_flight


def _dead_here(worker: str) -> bool:
    """`host:pid` names a process of this host that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _drop_superseded(session, rows: list[Row]) -> list[Row]:
    """Calendar mail with a newer one for the same meeting and person (queued later, so a
    higher SEQUENCE) is never sent: from a backlog, SEQUENCE 0 arriving after SEQUENCE 1
    would show the old time in some calendars. The row is cancelled and says why."""
    calendar = [r.id for r in rows if r.kind in CALENDAR_KINDS and r.meeting_id is not None]
    if not calendar:
        return rows  # the common case costs nothing
    newer = aliased(OutboxMessage)
    superseded = dict(
        session.execute(
            select(OutboxMessage.id, func.max(newer.id))
            .join(
                newer,
                (newer.meeting_id == OutboxMessage.meeting_id)
                & (newer.recipients == OutboxMessage.recipients)
                & (newer.id > OutboxMessage.id),
            )
            .where(
                OutboxMessage.id.in_(calendar),
                newer.kind.in_(CALENDAR_KINDS),
                newer.status.in_((OutboxStatus.PENDING, OutboxStatus.SENT)),
            )
            .group_by(OutboxMessage.id)
        ).all()
    )
    for old, new in superseded.items():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == old)
            .values(
                status=OutboxStatus.CANCELLED,
                last_error=f"superseded: outbox #{new} carries a later version of this "
                "meeting to the same person",
            )
            .execution_options(synchronize_session=False)
        )
        log.info("outbox #%s: superseded by #%s, not sent", old, new)
    return [row for row in rows if row.id not in superseded]


def send_due(
    db: Database,
    outgoing: Outgoing,
    clock: Clock,
    limit: int = 500,
    *,
    lease: timedelta = CLAIM_LEASE,
    journal: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    release_when_unreachable: bool = False,
    provable: bool = False,
) -> SendReport:
    """Send what is due now on one connection; each row is settled in its own commit.

    `journal`: an address of collabd's own mailbox that gets a copy of each mail in the same
    SMTP transaction, the proof that lets an interrupted send be settled without sending it
    twice (daemon/service/journal.py). `should_stop` is asked between mails.
    `release_when_unreachable`: when the server cannot be reached at all, give the claims
    back without counting an attempt against each mail (the daemon backs off instead).
    `provable`: the transport can tell later whether a mail went out (Graph's Sent Items),
    so a send whose answer was lost waits for that proof like a journaled one."""
    report = SendReport()
    rows = claim_due(db, clock.now(), limit, lease)
    if not rows:
        return report
    settled: set[int] = set()
    try:
        # One ledger connection for the batch's marks: a session per mail cost a third of
        # the throughput (bench/tick.py).
        with outgoing.session() as connection, db.engine.connect() as ledger:
            _send_batch(
                db, connection, clock, rows, report, ledger, journal, should_stop, settled, provable
            )
        _release(db, [row.id for row in rows if row.id not in settled])
    except TemporaryFailure as exc:  # could not connect at all: give the claims back
        log.warning("outbox: cannot send now: %s", exc)
        report.unreachable, report.error = str(exc), exc
        if release_when_unreachable:
            _release(db, [row.id for row in rows if row.id not in settled])
            return report
        for row in rows:
            if row.id not in settled:
                status = _settle(db, row, clock.now(), temporary=str(exc))
                gave_up = status is OutboxStatus.FAILED  # past RETRY_DEADLINE
                (report.failed if gave_up else report.deferred).append((row.message_id, str(exc)))
    return report


def _send_batch(
    db: Database,
    outgoing: Outgoing,
    clock: Clock,
    rows: list[Row],
    report: SendReport,
    ledger: Connection,
    journal: str | None,
    should_stop: Callable[[], bool],
    settled: set[int],
    provable: bool = False,
) -> None:
    """Mark in flight (committed), send, mark sent. Every commit carries the "sent" marks so
    far and the in-flight marks of the next mails, which go out only after it.

    Without a journal each commit marks one mail in flight. With the journal (the daemon on
    SMTP) it marks JOURNALED_MARKS: a crash may then leave a few marked mails unsent, and
    the journal settles them like any interrupted send (no copy, so they are sent after
    journal_grace; a mail that did go out has its copy, so it is never sent twice). A commit
    per mail was most of what the sender cost beyond the server's own time (bench/tick.py)."""
    per_commit = JOURNALED_MARKS if journal or provable else 1
    in_flight: set[int] = set()  # marked in flight and committed, not yet tried
    just_sent: list[dict] = []  # "sent" marks waiting for the next commit
    next_to_mark = 0
    try:
        for index, row in enumerate(rows):
            if should_stop():  # the rest of the claim runs out and is taken again
                break
            if index == next_to_mark:
                chunk = rows[index : index + per_commit]
                in_flight |= _ledger_step(ledger, just_sent, chunk, clock.now())
                just_sent, next_to_mark = [], index + len(chunk)
            if row.id in in_flight:
                in_flight.discard(row.id)  # tried from here on: its mark stays until settled
                problem = _attempt(outgoing, row, journal)
                if _conclude(db, clock, row, report, problem, journal or provable):
                    just_sent.append({"row_id": row.id, "sent_at": clock.now()})
            else:
                _claim_lost(row)
            settled.add(row.id)
    finally:
        # The last "sent" marks, and the in-flight marks of mails a stop left untried.
        _ledger_step(ledger, just_sent, [], clock.now(), untried=in_flight)


# In-flight marks per commit when the journal can settle a crash (see _send_batch).
JOURNALED_MARKS = 5


def _ledger_step(
    ledger: Connection,
    sent: list[dict],
    sending: list[Row],
    now: datetime,
    untried: set[int] = frozenset(),
) -> set[int]:
    """One commit: "sent" marks, in-flight marks, and marks taken back from mails that
    were never tried. Returns the ids marked in flight (still ours to send)."""
    if sent:
        ledger.execute(_MARK_SENT, sent)
    marked: set[int] = set()
    if sending:
        params = {"row_ids": [row.id for row in sending], "worker": _worker_name(), "now": now}
        marked = set(ledger.execute(_MARK_SENDING, params).scalars())
    if untried:
        ledger.execute(_UNMARK_SENDING, {"row_ids": list(untried), "worker": _worker_name()})
    ledger.commit()
    return marked


def _claim_lost(row: Row) -> None:
    log.warning(
        "outbox: claim on %s ran out before sending: left to its new owner",
        row.message_id,
        extra={"message_id": row.message_id},
    )


def _attempt(outgoing: Outgoing, row: Row, journal: str | None) -> Exception | None:
    """Hand the mail to the server; the transport's failure, or None when it took it."""
    recipients = [address for _, address in getaddresses([row.recipients])]
    envelope = Envelope(
        sender=row.sender,
        recipients=[*recipients, journal] if journal else recipients,
        raw=row.raw,
        message_id=row.message_id,
    )
    try:
        outgoing.send(envelope)
    except (OutcomeUnknown, TemporaryFailure, PermanentFailure) as exc:
        return exc
    return None


def _conclude(
    db: Database,
    clock: Clock,
    row: Row,
    report: SendReport,
    problem: Exception | None,
    provable: str | bool | None,
) -> bool:
    """Record how the attempt went. True when the server took the mail: the caller then
    marks it sent (in its next commit). `provable`: a journal address, or a transport that
    can prove later whether the mail went out."""
    if problem is None:
        report.sent.append(row.message_id)
        log.info(
            "outbox: sent %s (%s) to %s",
            row.message_id,
            row.kind,
            row.recipients,
            extra={"message_id": row.message_id, "item": row.item_id, "rule": row.rule_id},
        )
        return True
    if isinstance(problem, OutcomeUnknown) and provable:
        # Keep `sending_since`: the journal (or the server's sent copy) will tell.
        _release(db, [row.id], in_flight=True)
        report.deferred.append((row.message_id, str(problem)))
        log.warning(
            "outbox: %s: %s; outcome unknown until its journal copy is looked for",
            row.message_id,
            problem,
            extra={"message_id": row.message_id},
        )
    elif isinstance(problem, PermanentFailure):
        _settle(db, row, clock.now(), permanent=str(problem))
        report.failed.append((row.message_id, str(problem)))
        log.error("outbox: %s to %s failed: %s", row.message_id, row.recipients, problem)
    else:  # a 4xx, or a lost connection without a journal to ask: try again later
        retry_after = getattr(problem, "retry_after", None)
        status = _settle(db, row, clock.now(), temporary=str(problem), retry_after=retry_after)
        gave_up = status is OutboxStatus.FAILED  # past RETRY_DEADLINE
        (report.failed if gave_up else report.deferred).append((row.message_id, str(problem)))
        log.warning("outbox: %s to %s deferred: %s", row.message_id, row.recipients, problem)
    return False


def _release(db: Database, ids: list[int], in_flight: bool = False) -> None:
    """Give back claimed rows that were never tried (shutdown, server unreachable): due
    again at once. `in_flight`: rows whose attempt's outcome is unknown, left marked."""
    if ids:
        with db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.claimed_by == _worker_name(),  # still ours, not a successor's
                    OutboxMessage.sending_since.is_not(None)
                    if in_flight
                    else OutboxMessage.sending_since.is_(None),
                )
                .values(claimed_by=None, claimed_until=None)
            )


# Committed before the SMTP transaction: if the process dies before the row is settled, it
# says an attempt was made, and when. Only while our claim holds (another sender may have
# taken a row whose claim ran out): then it is not ours to send.
_MARK_SENDING = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id.in_(bindparam("row_ids", expanding=True)),
        OutboxMessage.claimed_by == bindparam("worker"),
        OutboxMessage.claimed_until > bindparam("now", type_=UTCDateTime()),
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.sending_since.is_(None),
    )
    .values(sending_since=bindparam("now", type_=UTCDateTime()))
    .returning(OutboxMessage.id)
)


# Marks taken back: mails marked in flight that the sender stopped before trying.
_UNMARK_SENDING = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id.in_(bindparam("row_ids", expanding=True)),
        OutboxMessage.claimed_by == bindparam("worker"),
        OutboxMessage.status == OutboxStatus.PENDING,
    )
    .values(sending_since=None)
)


# Built once: composing the statement per mail cost more than executing it. Executed with
# the next commit of the batch (_ledger_step); until then the row is in flight, and a crash
# in between leaves it to the journal (daemon/service/journal.py).
_MARK_SENT = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("row_id"))
    .values(
        attempts=OutboxMessage.attempts + 1,
        claimed_by=None,
        claimed_until=None,
        sending_since=None,
        status=OutboxStatus.SENT,
        sent_at=bindparam("sent_at", type_=UTCDateTime()),
        last_error="",
    )
)


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
        current.claimed_by = current.claimed_until = current.sending_since = None
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
