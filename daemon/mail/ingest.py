"""Mail in: each mail is applied in ONE transaction with its inbound-log row, and only after
that commit is it filed away on the server.

Mailman acknowledges a message before its database commit; collabd does it the other way
round. A crash between commit and filing means the mail is fetched again, and the inbound
log's unique keys (Message-ID; mailbox + UIDVALIDITY + UID) turn the second apply into a
no-op. A mail that keeps failing goes to quarantine after MAX_ATTEMPTS and never blocks the
rest.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..store.models import InboundMessage, InboundStatus, MailboxCursor
from .reply import decode
from .routes import route
from .transport import Incoming, IncomingMail, Outcome

if TYPE_CHECKING:
    from ..app import App

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
ACK_BATCH = 100
FINAL = (InboundStatus.APPLIED, InboundStatus.IGNORED, InboundStatus.QUARANTINED)


@dataclass(frozen=True)
class Envelope:
    """The headers ingest needs, read defensively: a malformed header never stops a mail.

    Parsed once with the forgiving compat32 parser (also ~5x faster than the default
    policy); the reply reader works on the same parsed message."""

    message: Message
    message_id: str
    sender: str
    subject: str

    @classmethod
    def read(cls, raw: bytes) -> Envelope:
        message = decode.load(raw)
        message_id = decode.header(message, "Message-ID").strip()
        if not message_id:  # still dedupe a redelivery of the very same bytes
            message_id = synthetic_message_id(raw)
        sender = parseaddr(decode.header(message, "From"))[1].strip().lower()
        subject = " ".join(decode.header(message, "Subject").split())
        return cls(message, message_id[:998], sender, subject)


@dataclass
class IngestReport:
    applied: int = 0
    ignored: int = 0
    duplicates: int = 0
    failed: int = 0
    quarantined: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.applied + self.ignored + self.duplicates + self.quarantined


def ingest_pass(app: App, incoming: Incoming, *, full: bool = True) -> IngestReport:
    """Read what is in the mailbox now. `full` rescans from the first UID (after a reconnect,
    and to retry failed mail); otherwise only mail after the stored cursor is fetched.

    Mail is filed in batches, each after the commits of the mails in it: one IMAP MOVE per
    batch instead of one round trip per mail."""
    report = IngestReport()
    since = 0 if full else _cursor_uid(app, incoming.name)
    if getattr(incoming, "cursor", "uid") == "sync_state":  # EWS: a SyncFolderItems state
        since = "" if full else _cursor_sync_state(app, incoming.name)
    filed: dict[Outcome, list[IncomingMail]] = {Outcome.PROCESSED: [], Outcome.QUARANTINED: []}
    for mail in incoming.fetch(since):
        outcome = ingest_one(app, mail, report)
        if outcome is not None:
            filed[outcome].append(mail)
            if len(filed[outcome]) >= ACK_BATCH:
                incoming.ack_many(filed[outcome], outcome)
                filed[outcome] = []
    for outcome, mails in filed.items():
        if mails:
            incoming.ack_many(mails, outcome)
    return report


def ingest_one(app: App, mail: IncomingMail, report: IngestReport | None = None) -> Outcome | None:
    """Apply one mail. Returns where to file it, or None to leave it for a retry."""
    report = report if report is not None else IngestReport()
    try:
        envelope = Envelope.read(mail.raw)
    except Exception as exc:
        return _record_failure(app, mail, None, f"unreadable mail: {exc}", report, final=True)
    try:
        with app.db.transaction() as session:
            seen = _already_seen(session, mail, envelope.message_id)
            if seen is not None and seen.status in FINAL:
                report.duplicates += 1
                _advance_cursor(session, app, mail)
                return (
                    Outcome.QUARANTINED
                    if seen.status is InboundStatus.QUARANTINED
                    else Outcome.PROCESSED
                )
            status, detail = route(session, app, envelope)
            row = seen or _log_row(mail, envelope.message_id, envelope)
            row.received_at, row.status, row.detail = app.clock.now(), status, detail
            row.attempts += 1
            session.add(row)
            _advance_cursor(session, app, mail)
    except Exception as exc:
        log.exception("ingest of %s failed", envelope.message_id)
        return _record_failure(app, mail, envelope, f"{type(exc).__name__}: {exc}", report)
    if status is InboundStatus.APPLIED:
        report.applied += 1
    else:
        report.ignored += 1
    report.details.append(f"{envelope.message_id} from {envelope.sender}: {status.value}: {detail}")
    log.info("mail %s from %s: %s (%s)", envelope.message_id, envelope.sender, status.value, detail)
    return Outcome.PROCESSED


def _already_seen(session: Session, mail: IncomingMail, message_id: str) -> InboundMessage | None:
    same_uid = (
        (
            (InboundMessage.mailbox == mail.mailbox)
            & (InboundMessage.uidvalidity == mail.uidvalidity)
            & (InboundMessage.uid == mail.uid)
        )
        if mail.uid is not None
        else False
    )
    return session.scalar(
        select(InboundMessage)
        .where(or_(InboundMessage.message_id == message_id, same_uid))
        .with_for_update()
    )


def _record_failure(
    app: App,
    mail: IncomingMail,
    envelope: Envelope | None,
    error: str,
    report: IngestReport,
    final: bool = False,
) -> Outcome | None:
    """Count the failed try in its own transaction; quarantine after MAX_ATTEMPTS."""
    message_id = envelope.message_id if envelope else synthetic_message_id(mail.raw)
    with app.db.transaction() as session:
        row = _already_seen(session, mail, message_id) or _log_row(mail, message_id, envelope)
        row.attempts += 1
        row.received_at, row.detail = app.clock.now(), error[:4000]
        quarantined = final or row.attempts >= MAX_ATTEMPTS
        row.status = InboundStatus.QUARANTINED if quarantined else InboundStatus.FAILED
        session.add(row)
        attempts = row.attempts
    if quarantined:
        report.quarantined += 1
        log.error("mail %s quarantined after %d attempt(s): %s", message_id, attempts, error)
        return Outcome.QUARANTINED
    report.failed += 1
    log.warning("mail %s failed (attempt %d of %d): %s", message_id, attempts, MAX_ATTEMPTS, error)
    return None


def synthetic_message_id(raw: bytes) -> str:
    """For mail without a Message-ID: the same bytes delivered twice still dedupe."""
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@collabd.invalid>"


def _log_row(mail: IncomingMail, message_id: str, envelope: Envelope | None) -> InboundMessage:
    return InboundMessage(
        mailbox=mail.mailbox,
        uidvalidity=mail.uidvalidity,
        uid=mail.uid,
        source_key=mail.key,
        message_id=message_id,
        attempts=0,
        from_addr=envelope.sender[:320] if envelope else "",
        subject=envelope.subject if envelope else "",
    )


def _cursor_uid(app: App, mailbox: str) -> int:
    with app.db.transaction() as session:
        cursor = session.get(MailboxCursor, mailbox)
        return int(cursor.last_uid or 0) if cursor else 0


def _advance_cursor(session: Session, app: App, mail: IncomingMail) -> None:
    """UIDVALIDITY + last UID, committed with the mail it covers. A new UIDVALIDITY means the
    server renumbered the folder: start again from its first UID (dedupe keeps it safe)."""
    if mail.sync_state is not None:
        _store_sync_state(session, app, mail)
        return
    if mail.uid is None:
        return
    cursor = session.get(MailboxCursor, mail.mailbox, with_for_update=True)
    if cursor is None:
        cursor = MailboxCursor(mailbox=mail.mailbox, updated_at=app.clock.now())
        session.add(cursor)
    if cursor.uidvalidity != mail.uidvalidity:
        cursor.uidvalidity, cursor.last_uid = mail.uidvalidity, 0
    cursor.last_uid = max(cursor.last_uid or 0, mail.uid)
    cursor.updated_at = app.clock.now()


# --- EWS (transport/ews.py): the cursor is the folder's SyncFolderItems state -------------


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
