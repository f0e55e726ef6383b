"""What a reply means for the ledger: who sent it, which collaboration its token names,
which items it may change, and the answer the sender gets.

Runs inside ingest's transaction: the ledger changes, the inbound-log row and the answer
mail commit together or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import Session

from ..ledger.history import Origin
from ..ledger.items import ArchivedCollaboration, ItemChange, update_item
from ..store.models import (
    ActionItem,
    Collaboration,
    InboundStatus,
    ItemStatus,
    OutboxMessage,
    Person,
)
from .headers import header_values
from .outbox import queue_mail
from .reply import ParsedReply, decode, parse_reply
from .tokens import TokenClaims, TokenError

if TYPE_CHECKING:
    from ..app import App
    from .ingest import Envelope

log = logging.getLogger(__name__)

ANSWERS_PER_HOUR = 20  # per sender: a mail loop or a flood must not make collabd a spammer


@dataclass
class CommandResult:
    """One line of the answer: what happened to one command."""

    kind: str  # applied, unchanged, no_such_item, not_permitted, unknown_word, need_number,
    #            archived, delay_requested
    item: int | None = None
    status: ItemStatus | None = None
    progress: int | None = None
    word: str = ""
    due: object = None
    ref: ActionItem | None = None


@dataclass
class ReplyContext:
    """A person's reply, read: who sent it, what token it carries, which collabd mail it
    answers. Handlers in mail/routes.py get one and decide what it means."""

    session: Session
    app: App
    envelope: Envelope
    parsed: ParsedReply
    person: Person | None  # the From address, if it is someone in the ledger
    claims: TokenClaims  # the reply token: whose mail, which collaboration
    collab: Collaboration | None
    answered: OutboxMessage | None  # the collabd mail this one replies to, if found

    @property
    def origin(self) -> Origin | None:
        return Origin.mail(self.envelope.message_id, self.person) if self.person else None

    def answer(self, outcomes: list[CommandResult], problem: str = "", **context) -> None:
        """One answer to the sender (or, for a stranger, the token's person)."""
        recipient = self.person or self.session.get(Person, self.claims.person_id)
        if recipient is not None:
            _answer(
                self.session, self.app, self.envelope, recipient, self.collab, outcomes, problem
            )


def read_reply(
    session: Session, app: App, envelope: Envelope
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
        _answer(session, app, envelope, person, None, [CommandResult("no_token")], token_problem)
        return InboundStatus.IGNORED, f"no usable reply token: {token_problem}"

    collab_id = claims.collaboration_id
    collab = session.get(Collaboration, collab_id) if collab_id else None
    return ReplyContext(session, app, envelope, parsed, person, claims, collab, answered)


def apply_item_commands(ctx: ReplyContext) -> tuple[InboundStatus, str]:
    """The default reading of a reply: `#N status …` lines change items."""
    outcomes = _apply_commands(
        ctx.session,
        ctx.app,
        ctx.envelope,
        ctx.parsed,
        ctx.person,
        ctx.claims,
        ctx.collab,
        ctx.answered,
    )
    # Closing the loop (daemon/closing): files sent with `#N 完成` become deliverables and go
    # to acceptance; `验收 #N 通过/不通过` verdicts are recorded. Imported here because
    # daemon.closing builds on this module.
    from ..closing.replies import CHANGING, after_commands

    outcomes += after_commands(ctx, outcomes)
    changed = any(o.kind in ("applied", "delay_requested", *CHANGING) for o in outcomes)
    if not outcomes:
        outcomes = [CommandResult("nothing_found")]
    if ctx.person is None:
        # Someone outside the ledger wrote from a collabd thread (a forward, a forged From):
        # nothing changes, and the person the token belongs to is told, not the stranger.
        outcomes = [CommandResult("not_permitted")]
        changed = False
    ctx.answer(outcomes)
    summary = "; ".join(_describe(o) for o in outcomes)
    return (InboundStatus.APPLIED if changed else InboundStatus.IGNORED), summary


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


def _may_change(person: Person | None, claims: TokenClaims, item: ActionItem) -> bool:
    if person is None:
        return False
    collab = item.collaboration
    if person.id in (claims.person_id, item.owner_id, collab.coordinator_id, collab.initiator_id):
        return True
    return any(p.id == person.id for p in item.collaborators)  # loaded only when needed


def _item(session: Session, collab: Collaboration | None, number: int) -> ActionItem | None:
    if collab is None:
        return None
    # Without autoflush: replies never create items, and the item a previous command of this
    # mail changed comes from the identity map as changed.
    with session.no_autoflush:
        return session.scalar(_ITEM_BY_NUMBER, {"collab": collab.id, "number": number})


_ITEM_BY_NUMBER = select(ActionItem).where(
    ActionItem.collaboration_id == bindparam("collab"), ActionItem.number == bindparam("number")
)


def _apply_commands(
    session: Session,
    app: App,
    envelope: Envelope,
    parsed: ParsedReply,
    person: Person | None,
    claims: TokenClaims,
    collab: Collaboration | None,
    answered: OutboxMessage | None,
) -> list[CommandResult]:
    outcomes: list[CommandResult] = []
    origin = Origin.mail(envelope.message_id, person) if person else None
    for command in parsed.commands:
        number = command.item
        if number is None:
            single = (
                session.get(ActionItem, answered.item_id) if answered and answered.item_id else None
            )
            if single is None:
                outcomes.append(CommandResult("need_number", status=ItemStatus(command.status)))
                continue
            number = single.number
        item = _item(session, collab, number)
        if item is None:
            outcomes.append(CommandResult("no_such_item", item=number))
            continue
        if not _may_change(person, claims, item):
            outcomes.append(CommandResult("not_permitted", item=number, ref=item))
            continue
        status = ItemStatus(command.status)
        note = command.note
        if status is ItemStatus.DELAYED and command.due is not None:
            # The deadline itself changes only when the initiator approves (rules issue).
            note = f"申请延期至 {command.due.isoformat()}" + (f"：{note}" if note else "")
        try:
            changes = update_item(
                session,
                app,
                item,
                ItemChange(
                    status=status,
                    progress=command.progress,
                    note=note,
                    support_needed=note if status is ItemStatus.NEEDS_SUPPORT else None,
                ),
                origin,
            )
        except ArchivedCollaboration:  # update_item refuses it; say so instead
            outcomes.append(CommandResult("archived", item=number, ref=item))
            continue
        kind = (
            "delay_requested"
            if status is ItemStatus.DELAYED and command.due
            else "applied"
            if changes
            else "unchanged"
        )
        if kind == "delay_requested":  # rules issue: the initiator approves the new date
            from ..rules.delay import request_delay

            request_delay(
                session, app, item, person, command.due, command.note or "", envelope.message_id
            )
        outcomes.append(
            CommandResult(
                kind,
                item=number,
                status=item.status,
                progress=item.progress,
                due=command.due,
                ref=item,
            )
        )
    outcomes += [CommandResult("unknown_word", item=e.item, word=e.word) for e in parsed.errors]
    return outcomes


def _answer(
    session: Session,
    app: App,
    envelope: Envelope,
    person: Person,
    collab: Collaboration | None,
    outcomes: list[CommandResult],
    problem: str,
) -> None:
    """One answer per mail, threaded under it, in the person's locale; rate-limited."""
    now = app.clock.now()
    answered = _recent_answers(session, now)
    recent = answered.get(person.email, 0)
    if recent >= ANSWERS_PER_HOUR:
        log.warning("not answering %s: %d answers in the last hour", person.email, recent)
        return
    answered[person.email] = recent + 1
    earlier = " ".join(header_values(envelope.message, "References")).split()
    references = " ".join([*earlier, envelope.message_id])
    subject = (
        envelope.subject
        if envelope.subject.lower().startswith(("re:", "回复", "答复"))
        else f"Re: {envelope.subject}".strip()
    )
    queue_mail(
        session,
        app,
        now=now,
        kind="reply_answer",
        dedupe_key=f"answer:{envelope.message_id}",
        to=person,
        context={
            "collab": collab,
            "outcomes": outcomes,
            "problem": problem,
            "original_subject": subject,
        },
        collaboration_id=collab.id if collab else None,
        headers={"In-Reply-To": envelope.message_id, "References": references[-900:]},
    )


def _recent_answers(session: Session, now: datetime) -> dict[str, int]:
    """Answers per recipient in the last hour: counted once per session (one ingest batch)
    with one grouped query, then kept up to date as the batch answers."""
    if "collabd.recent_answers" not in session.info:
        rows = session.execute(
            select(OutboxMessage.recipients, func.count(OutboxMessage.id))
            .where(
                OutboxMessage.kind == "reply_answer",
                OutboxMessage.created_at > now - timedelta(hours=1),
            )
            .group_by(OutboxMessage.recipients)
        )
        session.info["collabd.recent_answers"] = {email: count for email, count in rows}
    return session.info["collabd.recent_answers"]


def _describe(outcome: CommandResult) -> str:
    number = f"#{outcome.item}" if outcome.item is not None else "(no number)"
    if outcome.kind in ("applied", "unchanged", "delay_requested"):
        return f"{number} {outcome.kind}: {outcome.status.value if outcome.status else ''}"
    if outcome.kind == "unknown_word":
        return f"{number} unknown status word {outcome.word!r}"
    return f"{number} {outcome.kind}"
