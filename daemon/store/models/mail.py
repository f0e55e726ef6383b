"""The mail log: what came in (and what became of it), what goes out, and where each
mailbox was read up to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..enums import InboundStatus, OutboxStatus
from ..types import UTCDateTime, str_enum
from .base import Base


class InboundMessage(Base):
    """One row per mail collabd has read. The unique keys make a redelivered mail a no-op."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500))
    # IMAP identity; NULL for transports without UIDs (maildir), where the key below applies.
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    source_key: Mapped[str] = mapped_column(String(500))  # transport's own name for the mail
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[InboundStatus] = mapped_column(str_enum(InboundStatus, "inbound_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    detail: Mapped[str] = mapped_column(Text, default="")  # what was done, or what went wrong

    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid"),)


class OutboxMessage(Base):
    """A mail to send. Written in the same transaction as the change that caused it.

    `dedupe_key` (rule, item, level, period …) is unique: whatever restarts or replicas do,
    the same notification can be queued only once. The rendered bytes are stored, so what is
    sent is exactly what was decided, with a stable Message-ID.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(500), unique=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    kind: Mapped[str] = mapped_column(String(64))  # template name: kickoff, item_assigned, …
    sender: Mapped[str] = mapped_column(String(320))  # envelope sender
    recipients: Mapped[str] = mapped_column(Text)  # envelope recipients, comma-separated
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    collaboration_id: Mapped[int | None] = mapped_column(ForeignKey("collaborations.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("action_items.id"))
    # What else the mail is about, so a reply to it finds its way back (see inbound/routes.py).
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    minutes_id: Mapped[int | None] = mapped_column(ForeignKey("minutes.id"))
    rule_id: Mapped[str | None] = mapped_column(String(100))
    rule_level: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())  # quiet hours defer, not drop
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # A sender's claim on the row; a claim past its lease is free to take over.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set (and committed) just before the SMTP transaction starts. A row still carrying it
    # once its claim ran out had an attempt whose outcome nobody recorded: the daemon checks
    # the journal copy before sending it again (daemon/service/journal.py).
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        # The rate limit on answers counts the last hour's rows of a kind.
        Index("ix_outbox_kind_created", "kind", "created_at"),
    )


class ReplyFingerprint(Base):
    """A reply that was acted on, by what it said and under which token: the same commands
    with the same token under a new Message-ID (a resend, a second copy) are a duplicate."""

    __tablename__ = "reply_fingerprints"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MailboxCursor(Base):
    """How far a mailbox has been read: IMAP UIDVALIDITY + last UID, or an EWS sync state."""

    __tablename__ = "mailbox_cursors"

    mailbox: Mapped[str] = mapped_column(String(500), primary_key=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int | None] = mapped_column(BigInteger)
    sync_state: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerSecret(Base):
    """Secrets shared by every collabd process on this ledger (e.g. the reply-token key).

    Kept in the ledger rather than a file so that replicas on several machines agree
    without extra configuration; created on first use, never changed after.
    """

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
