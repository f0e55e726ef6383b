"""What a handler gets from a mail, as plain data: the envelope, the reply's reading, and
what the handler decides.

These types sit below every handler (calendar, minutes, closing, rules) and below the
inbound dispatcher that builds them, so a handler depends on data, never on the dispatcher.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import Message
from typing import TYPE_CHECKING

from ..store.models import InboundStatus, Person
from ..store.origin import Origin
from .answer import CommandResult, answer_reply
from .reply import decode
from .sender import read_sender

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..store.models import Collaboration, OutboxMessage
    from .context import MailApp
    from .reply import ParsedReply
    from .tokens import TokenClaims

# What a handler decides about one mail: its inbound-log status and the reason, in words.
Decision = tuple[InboundStatus, str]


@dataclass(frozen=True)
class Envelope:
    """The headers ingest needs, read defensively: a malformed header never stops a mail.

    Parsed once with the forgiving compat32 parser (also ~5x faster than the default
    policy); the reply reader works on the same parsed message."""

    message: Message
    message_id: str
    sender: str  # the one plain From address, parsed before decoding ("" if there is none)
    subject: str
    written_at: datetime | None = None  # the Date header: replies are compared by it
    # Why From is not the person speaking ("" when it is): mail/sender.py.
    sender_problem: str = ""

    @classmethod
    def read(cls, raw: bytes) -> Envelope:
        message = decode.load(raw)
        message_id = decode.header(message, "Message-ID").strip()
        if not message_id:  # still dedupe a redelivery of the very same bytes
            message_id = synthetic_message_id(raw)
        sender = read_sender(message)
        subject = " ".join(decode.header(message, "Subject").split())
        written_at = decode.mail_datetime(message)
        return cls(message, message_id[:998], sender.address, subject, written_at, sender.problem)


def synthetic_message_id(raw: bytes) -> str:
    """For mail without a Message-ID: the same bytes delivered twice still dedupe."""
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@collabd.invalid>"


@dataclass
class ReplyContext:
    """A person's reply, read: who sent it, what token it carries, which collabd mail it
    answers. The inbound dispatcher builds one; the handler of the answered mail's kind
    decides what it means."""

    session: Session
    app: MailApp
    envelope: Envelope
    parsed: ParsedReply
    person: Person | None  # the From address, if it is someone in the ledger
    claims: TokenClaims  # the reply token: whose mail, which collaboration
    collab: Collaboration | None
    answered: OutboxMessage | None  # the collabd mail this one replies to, if found
    # The default reading (`#N status …` lines change items), for a handler that finds no
    # words of its own in the reply. Given by the dispatcher, which sits above the handlers.
    item_commands: ReplyHandler
    # The holiday calendar (given by the dispatcher): example dates in answers are working days.
    working_day: Callable[[date], bool] | None = None
    # No reply token vouched for the sender (a fresh `[协作 CODE]` mail, or a reply that kept
    # only the thread): From alone, which a colleague can write (outside attack F1/F10), so
    # the coordinator's commands (转交, 截止, 取消, 依赖, 新增) are refused.
    tokenless: bool = False

    @property
    def origin(self) -> Origin | None:
        return Origin.mail(self.envelope.message_id, self.person) if self.person else None

    def read_as_item_commands(self) -> Decision:
        return self.item_commands(self)

    def answer(self, outcomes: list[CommandResult], problem: str = "", **context) -> None:
        """One answer to the sender: the reader made sure they are the token's person."""
        if self.person is not None:
            answer_reply(
                self.session,
                self.app,
                self.envelope.message,
                self.envelope.message_id,
                self.answered,
                self.person,
                self.collab,
                outcomes,
                problem,
                self.working_day,
            )


ReplyHandler = Callable[[ReplyContext], Decision]

__all__ = ["CommandResult", "Decision", "Envelope", "ReplyContext", "ReplyHandler"]
