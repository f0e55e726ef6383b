"""The small interface every mail transport offers.

Outgoing: `send(envelope)`, raising TemporaryFailure (try again later) or PermanentFailure
(this mail will never go). `session()` lets a sender reuse one connection for a batch.

Incoming: `fetch()` yields mails not yet acknowledged; `ack(mail, outcome)` files a mail away
(processed or quarantine). Callers ack only AFTER the ledger commit: a crash in between means
the mail is fetched again, and the ledger's unique keys make the second apply a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class TransportError(Exception):
    pass


class TemporaryFailure(TransportError):
    """The server or network said "not now" (4xx, connection refused, timeout)."""

    # Seconds the server asked us to stay away (EWS throttling's BackOffMilliseconds).
    retry_after: float | None = None


class OutcomeUnknown(TemporaryFailure):
    """The connection broke while the mail was being handed over: the server may have
    accepted it or not. Sending it again blindly could deliver it twice."""


class SignInFailed(TemporaryFailure):
    """The server refused collabd's sign-in even with a renewed OAuth token, or no token could
    be had. Mail stays queued and the mailbox unread until an admin fixes it; the reason is
    kept in the ledger for `collabd status`."""


class PermanentFailure(TransportError):
    """The server said "never" (5xx): retrying the same mail will not help."""


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: Sequence[str]
    raw: bytes
    message_id: str = ""


def not_in_headers(raw: bytes, recipients: Sequence[str]) -> list[str]:
    """The envelope recipients the mail's To and Cc headers do not name (a Bcc, the
    journal): the Exchange transports, which take recipients from the headers, add them."""
    from email.parser import BytesHeaderParser
    from email.policy import compat32
    from email.utils import getaddresses

    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    named = {
        address.lower()
        for _, address in getaddresses(
            [str(v) for k in ("To", "Cc") for v in headers.get_all(k, [])]
        )
    }
    return [r for r in recipients if r.lower() not in named]


@dataclass(frozen=True)
class IncomingMail:
    mailbox: str  # a stable name for where it was read: "imap://user@host/INBOX", "maildir:…"
    key: str  # the transport's own handle for acking it
    raw: bytes
    uidvalidity: int | None = None
    uid: int | None = None
    # EWS: the folder's sync state, Graph: the delta link, on the last mail of a sync;
    # stored as the mailbox's cursor in the same transaction as that mail.
    sync_state: str | None = None


class Outcome(StrEnum):
    PROCESSED = "processed"
    QUARANTINED = "quarantined"


class Outgoing(Protocol):
    def send(self, envelope: Envelope) -> None: ...

    def session(self) -> contextlib.AbstractContextManager[Outgoing]: ...

    def close(self) -> None: ...


class Incoming(Protocol):
    name: str

    def fetch(self, since: int = 0) -> Iterator[IncomingMail]: ...

    def ack(self, mail: IncomingMail, outcome: Outcome) -> None: ...

    def ack_many(self, mails: list[IncomingMail], outcome: Outcome) -> None: ...

    def close(self) -> None: ...


@dataclass
class Transport:
    """A pair: how collabd sends, and the mailbox it reads."""

    outgoing: Outgoing
    incoming: Incoming

    def close(self) -> None:
        for part in (self.outgoing, self.incoming):
            with contextlib.suppress(Exception):
                part.close()
