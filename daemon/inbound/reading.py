"""Reading a person's reply: which collabd mail it answers, whose token it carries, and
who sent it. The result is a ReplyContext that the route table hands to a handler.

Runs inside ingest's transaction: the ledger changes, the inbound-log row and the answer
mail commit together or not at all.
"""

from __future__ import annotations

from email.message import Message
from typing import TYPE_CHECKING

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..mail.answer import CommandResult, answer_reply
from ..mail.envelope import Envelope, ReplyContext, ReplyHandler
from ..mail.headers import header_values
from ..mail.reply import decode, parse_reply
from ..mail.tokens import TokenClaims, TokenError
from ..store.models import Collaboration, InboundStatus, OutboxMessage, Person

if TYPE_CHECKING:
    from ..app import App


def read_reply(
    session: Session, app: App, envelope: Envelope, item_commands: ReplyHandler
) -> ReplyContext | tuple[InboundStatus, str]:
    """Parse the reply and check its token; a mail that cannot go further is decided here."""
    message = envelope.message
    thread_ids = header_values(message, "In-Reply-To", "References")
    answered = _answered_mail(session, thread_ids)
    parsed = parse_reply(
        envelope.message,
        sent_lines=_sent_lines(answered),
        today=app.clock.now().astimezone(app.settings.tz).date(),
    )
    if parsed.auto_reply:
        return InboundStatus.IGNORED, "automatic reply or bounce: logged, not answered"

    person = _person_by_email(session, envelope.sender)
    claims, token_problem = _claims(app, message, thread_ids)
    if claims is None:
        if person is None:
            return InboundStatus.IGNORED, f"no reply token and unknown sender ({token_problem})"
        answer_reply(
            session,
            app,
            message,
            envelope.message_id,
            envelope.subject,
            person,
            None,
            [CommandResult("no_token")],
            token_problem,
        )
        return InboundStatus.IGNORED, f"no usable reply token: {token_problem}"

    collab_id = claims.collaboration_id
    collab = session.get(Collaboration, collab_id) if collab_id else None
    return ReplyContext(
        session, app, envelope, parsed, person, claims, collab, answered, item_commands
    )


def preload_senders(session: Session, emails: list[str]) -> None:
    """Look up a batch's senders with one query (ingest calls this before the batch)."""
    known: dict[str, Person | None] = session.info.setdefault("collabd.people_by_email", {})
    wanted = {email for email in emails if email and email not in known}
    if not wanted:
        return
    found = {p.email: p for p in session.scalars(select(Person).where(Person.email.in_(wanted)))}
    for email in wanted:
        known[email] = found.get(email)


def _person_by_email(session: Session, email: str) -> Person | None:
    """People by address, remembered for the session (ingest's session spans a batch)."""
    known: dict[str, Person | None] = session.info.setdefault("collabd.people_by_email", {})
    if email not in known:
        known[email] = session.scalar(select(Person).where(Person.email == email))
    return known[email]


def keep_loaded(session: Session) -> None:
    """Keep every object the session loads for the session's life (ingest: one batch).

    SQLAlchemy's identity map holds objects weakly: without this, a batch loaded the same
    collaboration, department or person again for every mail that touched it, once the
    previous mail's references were gone. A batch is at most ingest.BATCH mails, so what
    is kept stays small; it is all let go with the session."""
    kept: list[object] = session.info.setdefault("collabd.kept", [])

    @event.listens_for(session, "loaded_as_persistent")
    def keep(session: Session, instance: object) -> None:
        kept.append(instance)


def _claims(app: App, message: Message, thread_ids: list[str]) -> tuple[TokenClaims | None, str]:
    # The headers' text as it is: the token pattern finds `collab+TOKEN@…` in it without
    # parsing every address first.
    candidates = app.tokens.find(
        header_values(message, "To", "Cc", "Delivered-To", "X-Original-To"), thread_ids
    )
    problem = "the mail does not answer a collabd mail"
    for token in candidates:
        try:
            return app.tokens.verify(token, app.clock.now()), ""
        except TokenError as exc:
            problem = str(exc)
    return None, problem


def _answered_mail(session: Session, thread_ids: list[str]) -> OutboxMessage | None:
    """The collabd mail this one replies to, if any (its Message-ID is in the thread)."""
    ids = [part for value in thread_ids for part in value.split() if part.startswith("<")]
    if not ids:
        return None
    return session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.message_id.in_(ids))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )


def _sent_lines(answered: OutboxMessage | None) -> list[str]:
    """The plain text of the collabd mail being answered: its lines are never commands.

    Remembered by Message-ID (a queued mail never changes): many replies answer the same
    reminder, and parsing it again for each was a MIME parse per reply."""
    if answered is None:
        return []
    lines = _SENT_LINES.get(answered.message_id)
    if lines is None:
        body, is_html = decode.best_body(decode.load(answered.raw))
        lines = [] if is_html else body.splitlines()
        _SENT_LINES[answered.message_id] = lines
        while len(_SENT_LINES) > 1024:  # the oldest first (dicts keep insertion order)
            del _SENT_LINES[next(iter(_SENT_LINES))]
    return lines


_SENT_LINES: dict[str, list[str]] = {}
