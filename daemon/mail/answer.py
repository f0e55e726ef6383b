"""The answer to a person's reply: one mail, threaded under theirs, in their locale.

Rate-limited per recipient (`mail.answers_per_hour`), so a mail loop or a flood never turns
collabd into a spammer. An answer over the limit is held, not lost: once the person's hour
has room again they get one digest answer listing what each held mail did. A notice to
someone else caused by mail (the owner told of a change, the coordinator of a meeting answer)
over the same limit is held the same way and goes in one notice digest (hold_notice): the
limit batches mail, it never silently drops it. Workflow requests (acceptance) are not
limited at all: one per round, so a flood cannot multiply them.

Its subject is collabd's own — the subject of the collabd mail being answered, or a fixed
one — never the incoming mail's: that would relay whatever a stranger wrote there
(`请点击 http://evil…`) to a colleague, from collabd's address.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..store.models import ActionItem, ItemStatus, OutboxMessage, OutboxStatus, Person
from .headers import header_values
from .outbox import queue_mail

if TYPE_CHECKING:
    from ..store.models import Collaboration
    from .context import MailApp

log = logging.getLogger(__name__)

ANSWERS_PER_HOUR = 20  # the default of mail.answers_per_hour


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
    then: object = None  # a second date: the one to suggest instead of `due`
    # Why nothing happened, as a code the templates turn into the reader's words and the
    # next step (never the engine's English: "token_expired", "dmarc" …).
    reason: str = ""


def answer_reply(
    session: Session,
    app: MailApp,
    message: Message,
    message_id: str,
    answered: OutboxMessage | None,
    person: Person,
    collab: Collaboration | None,
    outcomes: list[CommandResult],
    problem: str,
    working_day: Callable[[date], bool] | None = None,
) -> None:
    """One answer per mail, threaded under it, in the person's locale; rate-limited.
    `working_day`: the holiday calendar, for the example dates the answer suggests."""
    now = app.clock.now()
    # collabd's own words only (see the module's docstring).
    subject = answer_subject(answered.subject, str(person.locale)) if answered is not None else ""
    if not within_rate(session, app, "reply_answer", person, message_id, held=True):
        _hold(session, app, message_id, person, collab, outcomes, subject)
        return
    # The answer that fills the hour says so: from the mailbox, "applied, not answered
    # yet" must not look like "lost" (review F8).
    limit = getattr(app.settings.mail, "answers_per_hour", ANSWERS_PER_HOUR)
    last = _recent(session, now, "reply_answer").get(person.email, 0) >= limit
    earlier = " ".join(header_values(message, "References")).split()[-20:]
    references = " ".join([*earlier, message_id])
    queue_mail(
        session,
        app,
        now=now,
        kind="reply_answer",
        dedupe_key=f"answer:{message_id}",
        to=person,
        context={
            "collab": collab,
            "outcomes": outcomes,
            "problem": problem,
            "original_subject": subject,
            "today": now.astimezone(app.settings.tz).date(),
            "own": own_open_items(session, person, collab),
            "working_day": working_day,
            "last_this_hour": limit if last else 0,
        },
        collaboration_id=collab.id if collab else None,
        headers={"In-Reply-To": message_id, "References": references[-900:]},
    )


def own_open_items(
    session: Session, person: Person, collab: Collaboration | None
) -> list[ActionItem]:
    """The reader's open items in `collab`: the answer's examples name these, never
    someone else's (sent back, those would be refused as not theirs)."""
    if collab is None or collab.status.value != "active":
        return []  # an archived or cancelled collaboration takes no more updates
    return list(
        session.scalars(
            select(ActionItem)
            .where(
                ActionItem.collaboration_id == collab.id,
                ActionItem.owner_id == person.id,
                ActionItem.status.not_in([ItemStatus.DONE, ItemStatus.CANCELLED]),
            )
            .order_by(ActionItem.number)
            .limit(2)
        )
    )


HELD, DIGESTED, DIGEST = "reply_held", "reply_held_digested", "reply_digest"
# Notices to a third person held by the limit: the notice as rendered, never sent as such.
NOTICE_HELD, NOTICE_DIGESTED, NOTICE_DIGEST = "notice_held", "notice_held_digested", "notice_digest"
NOTICE_KINDS = ("item_changed", "meeting_answer_notice", NOTICE_DIGEST)


def notify_or_hold(session: Session, app: MailApp, about: str, **mail) -> str:
    """Queue a notice to a third person caused by mail `about`; over the recipient's hourly
    limit it is held (rendered and kept, status CANCELLED, kind notice_held) and goes out in
    the recipient's next notice digest. Says which: "sent", "held" (or "" for a repeat)."""
    person = mail["to"]
    if within_rate(session, app, mail["kind"], person, about, held=True):
        return "sent" if queue_mail(session, app, **mail) else ""
    key = f"notice-held:{mail['dedupe_key']}"
    queued = queue_mail(session, app, **{**mail, "dedupe_key": key})
    if queued:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == key)
            .values(
                kind=NOTICE_HELD,
                status=OutboxStatus.CANCELLED,
                last_error="over mail.answers_per_hour: goes out in the next notice digest",
            )
            .execution_options(synchronize_session=False)
        )
    return "held" if queued else ""


def _hold(
    session: Session,
    app: MailApp,
    message_id: str,
    person: Person,
    collab: Collaboration | None,
    outcomes: list[CommandResult],
    subject: str,
) -> None:
    """An answer over the limit is not lost: what the mail did is kept, in the person's
    words, as an outbox row that is never sent as such (CANCELLED, kind reply_held), and
    goes out in one digest once the hour's window has room again (answer_digests)."""
    now = app.clock.now()
    queue_mail(
        session,
        app,
        now=now,
        kind=HELD,
        dedupe_key=f"held:{message_id}",
        to=person,
        context={
            "collab": collab,
            "outcomes": outcomes,
            "received": now,
            "original_subject": subject,
        },
        collaboration_id=collab.id if collab else None,
        headers={"In-Reply-To": message_id},
        # inserted so: an UPDATE after the INSERT was one more round trip per held answer
        status=OutboxStatus.CANCELLED,
        last_error="over mail.answers_per_hour: goes out in the next answer digest",
    )


def answer_digests(app: MailApp, now: datetime) -> list[str]:
    """One digest answer per person whose answers were held, as soon as their hour's
    window has room again: what each held mail did, oldest first; and one notice digest
    per person whose notices were held. Returns a line per digest queued (for the tick's
    log)."""
    return _digests(app, now, HELD, DIGESTED, DIGEST, ("reply_answer",)) + _digests(
        app, now, NOTICE_HELD, NOTICE_DIGESTED, NOTICE_DIGEST, NOTICE_KINDS
    )


def held_counts(session: Session) -> dict[str, int]:
    """Held answers and held notices still waiting for their digest (for `status`)."""
    rows = session.execute(
        select(OutboxMessage.kind, func.count(OutboxMessage.id))
        .where(
            OutboxMessage.kind.in_((HELD, NOTICE_HELD)),
            OutboxMessage.status == OutboxStatus.CANCELLED,
        )
        .group_by(OutboxMessage.kind)
    )
    return {kind: count for kind, count in rows}


def _digests(
    app: MailApp, now: datetime, held_kind: str, done_kind: str, digest_kind: str, counted
) -> list[str]:
    limit = getattr(app.settings.mail, "answers_per_hour", ANSWERS_PER_HOUR)
    queued: list[str] = []
    with app.db.transaction() as session:
        held = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.kind == held_kind,
                    OutboxMessage.status == OutboxStatus.CANCELLED,
                )
                .order_by(OutboxMessage.id)
            )
        )
        if not held:
            return []
        counts: dict[str, int] = {}
        for kind in counted:
            for address, count in _recent(session, now, kind).items():
                counts[address] = counts.get(address, 0) + count
        waiting: dict[str, list[OutboxMessage]] = {}
        for row in held:
            waiting.setdefault(row.recipients, []).append(row)
        for address, rows in waiting.items():
            if counts.get(address, 0) >= limit:
                continue  # the window is still full: the digest waits for room
            person = session.scalar(select(Person).where(Person.email == address))
            if person is None:
                continue
            about = [row.dedupe_key.split(":", 1)[1] for row in rows]
            # A notice digest about one collaboration is answered in it, like each notice.
            collabs = {row.collaboration_id for row in rows}
            collab_id = collabs.pop() if len(collabs) == 1 and held_kind == NOTICE_HELD else None
            queue_mail(
                session,
                app,
                now=now,
                kind=digest_kind,
                dedupe_key=f"digest:{rows[0].dedupe_key}",
                to=person,
                context={
                    "sections": [
                        _held_text(row.raw) if held_kind == HELD else _notice_text(row)
                        for row in rows
                    ],
                    "limit": limit,
                    "collab_here": collab_id is not None,
                },
                collaboration_id=collab_id,
            )
            for row in rows:
                row.kind = done_kind
            counts[address] = counts.get(address, 0) + 1
            log.info(
                "%s: queued for %s (%s), listing %d mail(s) the limit held: %s",
                "answer digest" if digest_kind == DIGEST else "notice digest",
                address,
                person.name,
                len(rows),
                ", ".join(about),
            )
            queued.append(f"{digest_kind.replace('_', ' ')} to {address} ({len(rows)} mails)")
    return queued


def _held_text(raw: bytes) -> str:
    """The text part of a held answer: what that one mail did, as it was rendered."""
    parsed = message_from_bytes(raw, policy=policy.default)
    body = parsed.get_body(("plain",))
    return body.get_content().strip() if body is not None else ""


def _notice_text(row: OutboxMessage) -> str:
    """A held notice in a digest: its subject, then its body without the greeting, the
    closing and the per-notice correction hint (the digest says how to correct)."""
    lines = _held_text(row.raw).splitlines()
    if lines and lines[0].rstrip().endswith(("您好：", ",")):
        lines = lines[1:]
    kept = [
        line
        for line in lines
        if not line.startswith(("——", "-- collabd", "如有不符", "If this is not right"))
    ]
    return "\n".join([f"【{row.subject}】", *kept]).strip()


def within_rate(
    session: Session, app: MailApp, kind: str, person: Person, about: str, held: bool = False
) -> bool:
    """True, and counted, when `person` may get one more mail of `kind` caused by incoming
    mail (`about`: its Message-ID) this hour; otherwise the mail is not sent, and the log
    says which mail and which person (and, `held`, that the answer waits for the digest)."""
    limit = getattr(app.settings.mail, "answers_per_hour", ANSWERS_PER_HOUR)
    counts = _recent(session, app.clock.now(), kind)
    recent = counts.get(person.email, 0)
    if recent >= limit:
        # The mail by a short hash of its Message-ID and the person by address and name:
        # enough to answer "why did my reply get no answer?" from the log alone.
        log.warning(
            "rate limit: %s %s to %s (%s) about mail %s: %d already this hour "
            "(mail.answers_per_hour = %d)",
            (
                (
                    "holding for the next answer digest"
                    if kind == "reply_answer"
                    else "holding for the next notice digest"
                )
                if held
                else "not sending"
            ),
            kind,
            person.email,
            person.name,
            mail_hash(about),
            recent,
            limit,
            extra={"message_id": about},
        )
        return False
    counts[person.email] = recent + 1
    return True


def mail_hash(message_id: str) -> str:
    """A short, stable name for a mail in logs: the first 10 hex digits of SHA-256 of its
    Message-ID (the id itself can carry an address)."""
    return hashlib.sha256(message_id.encode()).hexdigest()[:10]


def _recent(session: Session, now: datetime, kind: str) -> dict[str, int]:
    """Mails of `kind` per recipient in the last hour: counted once per session (one ingest
    batch) with one grouped query, then kept up to date as the batch queues more."""
    key = f"collabd.recent:{kind}"
    if key not in session.info:
        rows = session.execute(
            select(OutboxMessage.recipients, func.count(OutboxMessage.id))
            .where(
                OutboxMessage.kind == kind,
                OutboxMessage.created_at > now - timedelta(hours=1),
                # A mail withdrawn before it went (a later acceptance request carries its
                # files) reached nobody: counting it held back the one that replaced it.
                OutboxMessage.status != OutboxStatus.CANCELLED,
            )
            .group_by(OutboxMessage.recipients)
        )
        session.info[key] = {email: count for email, count in rows}
    return session.info[key]


# Reply and forward prefixes mail clients write (zh, en, de), any number of them, with a
# half- or full-width colon: an answer to an answer got 回复：回复：回复：…
_PREFIXES = re.compile(r"^(?:\s*(?:回复|答复|转发|re|aw|fwd?|wg)\s*[:：]\s*)+", re.IGNORECASE)


def answer_subject(subject: str, locale: str) -> str:
    """The answered mail's subject under exactly one reply prefix, in the reader's language."""
    prefix = "回复：" if locale == "zh-CN" else "Re: "
    return prefix + _PREFIXES.sub("", subject)
