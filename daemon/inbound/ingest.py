"""Mail in: each mail is applied in ONE transaction with its inbound-log row, and only after
that commit is it filed away on the server.

Mailman acknowledges a message before its database commit; collabd does it the other way
round. A crash between commit and filing means the mail is fetched again, and the inbound
log's unique keys (Message-ID; mailbox + UIDVALIDITY + UID) turn the second apply into a
no-op. A mail that keeps failing goes to quarantine after MAX_ATTEMPTS and never blocks the
rest.

Whose fault a failure is decides what it costs (inbound/faults.py). A mail's own fault (it
cannot be read, a handler rejects it) counts as an attempt. The machine's fault (disk full,
ledger read-only or locked, database or mail server away) never does: the pass stops with
`report.fault` set, the mail stays in the inbox, and the watcher tries again after a pause.

A mail that kills the process while it is applied is the mail's fault too, and would never
be counted by an `except`: so an attempt is marked in a transaction of its own BEFORE the
work starts (the row's detail names the process applying it, and whether the mail was
alone). A row found marked by another process is an attempt that process did not survive:
the mails of that batch are then applied one at a time. Only a mark left while the mail was
applied alone counts: a process killed in the middle of a batch of a hundred says nothing
about any one of them (counting it against all hundred quarantined good replies after a
few unrelated `kill -9`s). A mark left by this same process means the machine failed (the
except saw it): not counted.
Decisions are logged after the commit that makes them true.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, or_, select
from sqlalchemy.orm import Session

from ..mail.envelope import Envelope, synthetic_message_id
from ..mail.transport import Incoming, IncomingMail, Outcome, TransportError
from ..store.models import InboundMessage, InboundStatus, MailboxCursor
from .faults import EnvironmentalFault, environmental
from .reading import keep_loaded, preload_senders
from .routes import route

if TYPE_CHECKING:
    from ..app import App

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
BATCH = 100  # mails per transaction, and per IMAP MOVE
FINAL = (InboundStatus.APPLIED, InboundStatus.IGNORED, InboundStatus.QUARANTINED)
# The mark an attempt leaves on its row until it ends: which process is applying the mail.
APPLYING = "applying in process "
_PROCESS = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
_THIS_PROCESS = APPLYING + _PROCESS  # in a batch
_THIS_PROCESS_ALONE = APPLYING + "alone: " + _PROCESS  # one mail, so a death is its own


@dataclass
class IngestReport:
    applied: int = 0
    ignored: int = 0
    duplicates: int = 0
    failed: int = 0
    quarantined: int = 0
    details: list[str] = field(default_factory=list)
    # Log lines (level, message id, text), written once the transaction deciding them commits.
    events: list[tuple[int, str, str]] = field(default_factory=list)
    # The machine's fault that stopped the pass ("" when none): mail was left, not counted.
    fault: str = ""

    def merge(self, other: IngestReport) -> None:
        self.applied += other.applied
        self.ignored += other.ignored
        self.duplicates += other.duplicates
        self.failed += other.failed
        self.quarantined += other.quarantined
        self.details += other.details
        self.events += other.events
        self.fault = self.fault or other.fault

    @property
    def handled(self) -> int:
        return self.applied + self.ignored + self.duplicates + self.quarantined


def ingest_pass(app: App, incoming: Incoming, *, full: bool = True) -> IngestReport:
    """Read what is in the mailbox now. `full` rescans from the first UID (after a reconnect,
    and to retry failed mail); otherwise only mail after the stored cursor is fetched.

    Mail is applied in batches of up to BATCH mails: one database transaction per batch, one
    SAVEPOINT per mail, so each mail's ledger changes, answer and inbound-log row still stand
    or fall together, while the batch pays for one commit and shares its lookups. The batch is
    filed on the server (one IMAP MOVE per outcome) only after its commit.

    A fault of the machine stops the pass: `report.fault` says what it was; the mail from
    there on stays in the folder, its attempts uncounted. (A mail server that goes away
    still raises TransportError: the watcher reconnects.)"""
    report = IngestReport()
    try:
        _pass(app, incoming, full, report)
    except TransportError:
        raise
    except Exception as exc:
        what = environmental(exc)
        if what is None:
            raise
        report.fault = what
    return report


def _pass(app: App, incoming: Incoming, full: bool, report: IngestReport) -> None:
    since = 0 if full else _cursor_uid(app, incoming.name)
    # EWS: a SyncFolderItems state; Graph: a delta link
    if getattr(incoming, "cursor", "uid") == "sync_state":
        since = "" if full else _cursor_sync_state(app, incoming.name)
    batch: list[IncomingMail] = []
    for mail in incoming.fetch(since):
        batch.append(mail)
        if len(batch) >= BATCH:
            _file(incoming, ingest_batch(app, batch, report))
            batch = []
            if report.fault:
                return
    if batch:
        _file(incoming, ingest_batch(app, batch, report))


def _file(incoming: Incoming, outcomes: list[tuple[IncomingMail, Outcome | None]]) -> None:
    for outcome in (Outcome.PROCESSED, Outcome.QUARANTINED):
        mails = [mail for mail, result in outcomes if result is outcome]
        if mails:
            incoming.ack_many(mails, outcome)


def ingest_batch(
    app: App, mails: list[IncomingMail], report: IngestReport
) -> list[tuple[IncomingMail, Outcome | None]]:
    """Apply a batch in one transaction. If the commit itself fails, nothing of the batch
    counts: it is applied again mail by mail, so one bad mail cannot hold back the others.
    A fault of the machine stops the batch at the mail it hit: what was applied before it
    is committed and filed, the rest waits (`report.fault`)."""
    envelopes = [_read(mail) for mail in mails]
    try:
        interrupted = _begin_attempts(app, mails, envelopes, report)
    except Exception as exc:
        report.fault = _machine_fault(exc)
        return []
    if interrupted:
        # A process ended while applying this batch: one mail at a time now, so a mail
        # that kills the process is counted alone and the others are not held with it.
        outcomes: list[tuple[IncomingMail, Outcome | None]] = []
        for mail in mails:
            outcomes.append((mail, ingest_one(app, mail, report)))
            if report.fault:
                break
        return outcomes
    try:
        try:
            batch_report, outcomes = _apply_batch(app, mails, envelopes, savepoints=False)
        except _MailFailed:  # rolled back whole: again, each mail under a savepoint
            batch_report, outcomes = _apply_batch(app, mails, envelopes, savepoints=True)
    except Exception as exc:
        if environmental(exc):
            report.fault = _machine_fault(exc)
            return []
        log.exception("a batch of %d mails failed to commit: applying them one by one", len(mails))
        return [(mail, ingest_one(app, mail, report)) for mail in mails]
    report.merge(batch_report)
    _log_events(batch_report)
    return outcomes


class _MailFailed(Exception):
    """A mail of a batch applied without savepoints failed: the batch is rolled back."""


def _apply_batch(
    app: App, mails: list[IncomingMail], envelopes: list[Envelope | str], *, savepoints: bool
) -> tuple[IngestReport, list[tuple[IncomingMail, Outcome | None]]]:
    """The batch in one transaction. First without a savepoint per mail: on PostgreSQL
    SAVEPOINT and RELEASE are two round trips of the 16 a reply costs, and almost every
    batch has no mail that fails. A mail that does fail raises _MailFailed (without
    `savepoints`): the caller rolls back and applies the batch again with them, so its
    failure is recorded and the other mails stand."""
    report = IngestReport()
    outcomes: list[tuple[IncomingMail, Outcome | None]] = []
    # Without savepoints the mails' inbound-log verdicts go in one executemany at the end
    # (one pipelined round trip on PostgreSQL instead of one per mail): the whole batch
    # commits or rolls back as one anyway, and nothing in it reads those rows again.
    verdicts: list[dict] | None = None if savepoints else []
    with app.db.transaction() as session:
        keep_loaded(session)
        seen = _seen_rows(session, mails, envelopes)
        preload_senders(session, [e.sender for e in envelopes if isinstance(e, Envelope)])
        for mail, envelope in zip(mails, envelopes, strict=True):
            try:
                outcome = _apply_one(
                    session, app, mail, envelope, seen, report, savepoints, verdicts
                )
            except EnvironmentalFault as exc:
                report.fault = exc.what
                break
            outcomes.append((mail, outcome))
        if verdicts:
            session.connection().execute(_UPDATE_ROW, verdicts)
        _advance_cursor(session, app, [mail for mail, _ in outcomes])
    return report, outcomes


def _machine_fault(exc: Exception) -> str:
    """What an exception says of the machine; anything else is re-raised (a bug)."""
    what = environmental(exc)
    if what is None:
        raise exc
    # debug only: whoever runs the pass (the watcher, the maildir poll, `collabd ingest`)
    # says it once per episode, with its back-off; a line per pass flooded the log
    log.debug("ingest stopped: %s", what)
    return what


def _log_events(report: IngestReport) -> None:
    """One line per mail, written after the commit that made it true."""
    for level, message_id, text in report.events:
        log.log(level, "mail %s %s", message_id, text, extra={"message_id": message_id})


def ingest_one(app: App, mail: IncomingMail, report: IngestReport | None = None) -> Outcome | None:
    """Apply one mail in a transaction of its own. Returns where to file it, or None to leave
    it for a retry."""
    single = IngestReport()
    envelope = _read(mail)
    try:
        _begin_attempts(app, [mail], [envelope], single)
        if single.quarantined:  # it ended the process once too often: not applied again
            outcome: Outcome | None = Outcome.QUARANTINED
        else:
            with app.db.transaction() as session:
                seen = _seen_rows(session, [mail], [envelope])
                outcome = _apply_one(session, app, mail, envelope, seen, single)
                _advance_cursor(session, app, [mail])
    except Exception as exc:
        if environmental(exc):  # the machine's fault: left for later, not counted
            single = IngestReport(fault=_machine_fault(exc))
            outcome = None
        else:  # the commit failed: count the try in a transaction of its own
            log.exception("ingest of %s failed at commit", mail.key)
            single = IngestReport()  # what the rolled-back transaction counted never happened
            outcome = _record_failure_alone(app, mail, f"{type(exc).__name__}: {exc}", single)
    _log_events(single)
    if report is not None:
        report.merge(single)
    return outcome


def _begin_attempts(
    app: App, mails: list[IncomingMail], envelopes: list[Envelope | str], report: IngestReport
) -> bool:
    """Mark each mail as being applied by this process, committed before any work starts.

    Returns True (marking nothing) when a mail of a batch carries another process's mark:
    that process ended mid-attempt and the batch must go one mail at a time. For a single
    mail such a mark is counted as a failed attempt when it was left by a process applying
    that mail alone, and at MAX_ATTEMPTS the mail is quarantined here, without being
    applied again."""
    mark = _THIS_PROCESS_ALONE if len(mails) == 1 else _THIS_PROCESS
    with app.db.transaction() as session:
        seen = _seen_rows(session, mails, envelopes)
        found = [seen.find(m, _message_id(m, e)) for m, e in zip(mails, envelopes, strict=True)]
        if len(mails) > 1 and any(row is not None and _interrupted(row) for row in found):
            return True
        connection = session.connection()
        new: dict[str, tuple[IncomingMail, Envelope | None]] = {}
        for mail, envelope in zip(mails, envelopes, strict=True):
            message_id = _message_id(mail, envelope)
            row = seen.find(mail, message_id)
            if row is not None and row.status in FINAL:
                continue
            if row is None:
                # Inserted below, in one statement; the same mail twice in a batch gets one
                # row (the second is a duplicate).
                new.setdefault(
                    message_id, (mail, envelope if isinstance(envelope, Envelope) else None)
                )
                continue
            attempts = row.attempts + (1 if _died_alone(row) else 0)
            if attempts >= MAX_ATTEMPTS:
                detail = f"the process ended while applying it ({attempts} times)"
                connection.execute(
                    _MARK_ROW,
                    {
                        "row_id": row.id,
                        "attempts": attempts,
                        "detail": detail,
                        "status": InboundStatus.QUARANTINED,
                    },
                )
                report.quarantined += 1
                report.events.append(
                    (logging.ERROR, message_id, f"quarantined after {attempts} attempts: {detail}")
                )
                continue
            connection.execute(
                _MARK_ROW,
                {
                    "row_id": row.id,
                    "attempts": attempts,
                    "detail": mark,
                    "status": InboundStatus.FAILED,
                },
            )
            row.attempts, row.detail = attempts, mark
        _insert_marked(connection, app, seen, new, mark)
    return False


def _insert_marked(
    connection: Connection,
    app: App,
    seen: SeenRows,
    new: dict[str, tuple[IncomingMail, Envelope | None]],
    mark: str,
) -> None:
    """The inbound-log rows of a batch's new mails, marked as being applied, in one
    statement: one round trip on PostgreSQL instead of one per mail."""
    if not new:
        return
    now = app.clock.now()
    values = [
        _row_values(mail, message_id, envelope, now, InboundStatus.FAILED, 0, mark)
        for message_id, (mail, envelope) in new.items()
    ]
    ids = connection.execute(_INSERT_ROWS, values).scalars().all()
    for new_id, v in zip(ids, values, strict=True):
        seen.add(SeenRow(new_id, **{name: v[name] for name in _SEEN_VALUES}))


def _row_values(
    mail: IncomingMail,
    message_id: str,
    envelope: Envelope | None,
    now: datetime,
    status: InboundStatus,
    attempts: int,
    detail: str,
) -> dict:
    """An inbound-log row's columns."""
    return {
        "mailbox": mail.mailbox,
        "uidvalidity": mail.uidvalidity,
        "uid": mail.uid,
        "source_key": mail.key,
        "message_id": message_id,
        "from_addr": envelope.sender[:320] if envelope else "",
        "subject": envelope.subject if envelope else "",
        "received_at": now,
        "status": status,
        "attempts": attempts,
        "detail": detail,
    }


def _interrupted(row: SeenRow) -> bool:
    """Marked as being applied by a process other than this one: that attempt never ended."""
    return (
        row.status not in FINAL
        and row.detail.startswith(APPLYING)
        and row.detail not in (_THIS_PROCESS, _THIS_PROCESS_ALONE)
    )


def _died_alone(row: SeenRow) -> bool:
    """Another process ended while applying this mail and nothing else: the mail's fault."""
    return _interrupted(row) and row.detail.startswith(APPLYING + "alone: ")


def _read(mail: IncomingMail) -> Envelope | str:
    """The mail's envelope, or why it cannot be read at all."""
    try:
        return Envelope.read(mail.raw)
    except Exception as exc:
        return f"unreadable mail: {exc}"


def _message_id(mail: IncomingMail, envelope: Envelope | str) -> str:
    return envelope.message_id if isinstance(envelope, Envelope) else synthetic_message_id(mail.raw)


def _apply_one(
    session: Session,
    app: App,
    mail: IncomingMail,
    envelope: Envelope | str,
    seen: SeenRows,
    report: IngestReport,
    savepoint: bool = True,
    verdicts: list[dict] | None = None,
) -> Outcome | None:
    """One mail inside the batch's transaction, under a savepoint of its own (without
    `savepoint`, a failure raises _MailFailed and the whole transaction must roll back).
    With `verdicts`, an existing inbound-log row's update is added there for the batch to
    write, instead of being written now."""
    if not isinstance(envelope, Envelope):
        message_id = synthetic_message_id(mail.raw)
        return _count_failure(session, app, mail, None, message_id, seen, envelope, report, True)
    row = seen.find(mail, envelope.message_id)
    if row is not None and row.status in FINAL:
        report.duplicates += 1
        return Outcome.QUARANTINED if row.status is InboundStatus.QUARANTINED else Outcome.PROCESSED
    try:
        with session.begin_nested() if savepoint else contextlib.nullcontext():
            status, detail = route(session, app, envelope)
            session.flush()  # the handler's ORM changes, inside this mail's savepoint
            row = _write_row(
                session,
                app,
                seen,
                row,
                mail,
                envelope.message_id,
                envelope,
                status,
                detail,
                verdicts=verdicts,
            )
    except Exception as exc:
        what = environmental(exc)
        if what is not None:  # the machine's fault: the mail is left as it was, uncounted
            raise EnvironmentalFault(what) from exc
        if not savepoint:
            raise _MailFailed from exc
        log.exception("ingest of %s failed", envelope.message_id)
        # Objects may still show what the rolled-back savepoint wrote (ledger.items writes
        # an item's fields straight to its row): read them again from the database.
        session.expire_all()
        error = f"{type(exc).__name__}: {exc}"
        return _count_failure(
            session, app, mail, envelope, envelope.message_id, seen, error, report
        )
    if status is InboundStatus.APPLIED:
        report.applied += 1
    else:
        report.ignored += 1
    report.details.append(f"{envelope.message_id} from {envelope.sender}: {status.value}: {detail}")
    text = f"from {envelope.sender}: {status.value} ({detail})"
    report.events.append((logging.INFO, envelope.message_id, text))
    return Outcome.PROCESSED


@dataclass
class SeenRow:
    """What ingest needs of an inbound-log row: which row, and how far the mail got."""

    id: int
    mailbox: str
    uidvalidity: int | None
    uid: int | None
    message_id: str
    status: InboundStatus
    attempts: int
    detail: str


class SeenRows:
    """The inbound-log rows of a batch, read with one query and kept up to date as the
    batch writes rows (the same mail twice in one batch is still a duplicate)."""

    def __init__(self, rows: list[SeenRow]) -> None:
        self.by_id: dict[str, SeenRow] = {}
        self.by_uid: dict[tuple[str, int | None, int], SeenRow] = {}
        for row in rows:
            self.add(row)

    def add(self, row: SeenRow) -> SeenRow:
        self.by_id[row.message_id] = row
        if row.uid is not None:
            self.by_uid[(row.mailbox, row.uidvalidity, row.uid)] = row
        return row

    def find(self, mail: IncomingMail, message_id: str) -> SeenRow | None:
        row = self.by_id.get(message_id)
        if row is None and mail.uid is not None:
            row = self.by_uid.get((mail.mailbox, mail.uidvalidity, mail.uid))
        return row


_INBOUND = InboundMessage.__table__
_SEEN_COLUMNS = [_INBOUND.c[name] for name in SeenRow.__dataclass_fields__]


def _seen_rows(
    session: Session, mails: list[IncomingMail], envelopes: list[Envelope | str]
) -> SeenRows:
    """Every inbound-log row matching a mail of the batch by Message-ID or by UID, locked."""
    message_ids = [_message_id(m, e) for m, e in zip(mails, envelopes, strict=True)]
    conditions = [_INBOUND.c.message_id.in_(message_ids)]
    uids = [mail.uid for mail in mails if mail.uid is not None]
    if uids:
        mailbox, uidvalidity = mails[0].mailbox, mails[0].uidvalidity
        conditions.append(
            (_INBOUND.c.mailbox == mailbox)
            & (_INBOUND.c.uidvalidity == uidvalidity)
            & _INBOUND.c.uid.in_(uids)
        )
    query = select(*_SEEN_COLUMNS).where(or_(*conditions)).with_for_update()
    return SeenRows([SeenRow(**row._mapping) for row in session.connection().execute(query)])


def _write_row(
    session: Session,
    app: App,
    seen: SeenRows,
    row: SeenRow | None,
    mail: IncomingMail,
    message_id: str,
    envelope: Envelope | None,
    status: InboundStatus,
    detail: str,
    attempts: int = 1,
    verdicts: list[dict] | None = None,
) -> SeenRow:
    """Insert the mail's inbound-log row, or update the one an earlier try left (or, with
    `verdicts`, add that update there for the batch to write with the others).

    Plain statements on the session's connection: the row is never needed as an object,
    and the ORM's unit of work was a fifth of applying a reply (bench/ingest.py)."""
    connection = session.connection()
    now = app.clock.now()
    if row is None:
        values = _row_values(mail, message_id, envelope, now, status, attempts, detail)
        new_id = connection.execute(_INSERT_ROW, values).scalar_one()
        return seen.add(
            SeenRow(
                new_id,
                mail.mailbox,
                mail.uidvalidity,
                mail.uid,
                message_id,
                status,
                attempts,
                detail,
            )
        )
    update = {"row_id": row.id, "received_at": now, "status": status, "detail": detail}
    if verdicts is None:
        connection.execute(_UPDATE_ROW, update)
    else:
        verdicts.append(update)
    row.status, row.attempts, row.detail = status, row.attempts + 1, detail
    return row


_INSERT_ROW = _INBOUND.insert().returning(_INBOUND.c.id)
# Many rows as INSERT … VALUES (…), (…) … RETURNING, the ids in the order of the rows given.
_INSERT_ROWS = _INBOUND.insert().returning(_INBOUND.c.id, sort_by_parameter_order=True)
_SEEN_VALUES = [name for name in SeenRow.__dataclass_fields__ if name != "id"]
_UPDATE_ROW = (
    _INBOUND.update()
    .where(_INBOUND.c.id == bindparam("row_id"))
    .values(
        attempts=_INBOUND.c.attempts + 1,
        received_at=bindparam("received_at"),
        status=bindparam("status"),
        detail=bindparam("detail"),
    )
)
# An attempt's mark (or a quarantine decided before applying), in its own transaction.
_MARK_ROW = (
    _INBOUND.update()
    .where(_INBOUND.c.id == bindparam("row_id"))
    .values(attempts=bindparam("attempts"), status=bindparam("status"), detail=bindparam("detail"))
)


def _count_failure(
    session: Session,
    app: App,
    mail: IncomingMail,
    envelope: Envelope | None,
    message_id: str,
    seen: SeenRows,
    error: str,
    report: IngestReport,
    final: bool = False,
) -> Outcome | None:
    """Count a failed try (in the batch's transaction, outside the mail's rolled-back
    savepoint); quarantine after MAX_ATTEMPTS."""
    row = seen.find(mail, message_id)
    if row is not None and row.status in FINAL:
        # Another process applied (or filed) it meanwhile: that outcome stands, and this
        # failed try was a duplicate's, not the mail's.
        report.duplicates += 1
        return Outcome.QUARANTINED if row.status is InboundStatus.QUARANTINED else Outcome.PROCESSED
    attempts = (row.attempts if row else 0) + 1
    quarantined = final or attempts >= MAX_ATTEMPTS
    status = InboundStatus.QUARANTINED if quarantined else InboundStatus.FAILED
    row = _write_row(session, app, seen, row, mail, message_id, envelope, status, error[:4000])
    if quarantined:
        report.quarantined += 1
        text = f"quarantined after {row.attempts} attempt(s): {error}"
        report.events.append((logging.ERROR, message_id, text))
        return Outcome.QUARANTINED
    report.failed += 1
    text = f"failed (attempt {row.attempts} of {MAX_ATTEMPTS}): {error}"
    report.events.append((logging.WARNING, message_id, text))
    return None


def _record_failure_alone(
    app: App, mail: IncomingMail, error: str, report: IngestReport
) -> Outcome | None:
    """When even the mail's own transaction cannot commit: count the try in a fresh one."""
    envelope = _read(mail)
    message_id = _message_id(mail, envelope)
    with app.db.transaction() as session:
        seen = _seen_rows(session, [mail], [envelope])
        return _count_failure(session, app, mail, None, message_id, seen, error, report)


def _cursor_uid(app: App, mailbox: str) -> int:
    with app.db.transaction() as session:
        cursor = session.get(MailboxCursor, mailbox)
        return int(cursor.last_uid or 0) if cursor else 0


def _advance_cursor(session: Session, app: App, mails: list[IncomingMail]) -> None:
    """UIDVALIDITY + last UID, committed with the mails it covers. A new UIDVALIDITY means the
    server renumbered the folder: start again from its first UID (dedupe keeps it safe)."""
    synced = [mail for mail in mails if mail.sync_state is not None]
    if synced:
        _store_sync_state(session, app, synced[-1])
        return
    numbered = [mail for mail in mails if mail.uid is not None]
    if not numbered:
        return
    last = numbered[-1]
    cursor = session.get(MailboxCursor, last.mailbox, with_for_update=True)
    if cursor is None:
        cursor = MailboxCursor(mailbox=last.mailbox, updated_at=app.clock.now())
        session.add(cursor)
    if cursor.uidvalidity != last.uidvalidity:
        cursor.uidvalidity, cursor.last_uid = last.uidvalidity, 0
    uids = [mail.uid for mail in numbered if mail.uidvalidity == last.uidvalidity]
    cursor.last_uid = max(cursor.last_uid or 0, *uids)
    cursor.updated_at = app.clock.now()


# --- EWS and Graph: the cursor is the folder's sync state (SyncFolderItems) or delta link --


def _cursor_sync_state(app: App, mailbox: str) -> str:
    with app.db.transaction() as session:
        cursor = session.get(MailboxCursor, mailbox)
        return (cursor.sync_state or "") if cursor else ""


def _store_sync_state(session: Session, app: App, mail: IncomingMail) -> None:
    """The state covers every mail of its sync: it rides on the last one, committed with it."""
    cursor = session.get(MailboxCursor, mail.mailbox, with_for_update=True)
    if cursor is None:
        cursor = MailboxCursor(mailbox=mail.mailbox, updated_at=app.clock.now())
        session.add(cursor)
    cursor.sync_state, cursor.updated_at = mail.sync_state, app.clock.now()
