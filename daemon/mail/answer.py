"""The answer to a person's reply: one mail, threaded under theirs, in their locale.

Rate-limited per recipient (`mail.answers_per_hour`), so a mail loop or a flood never turns
collabd into a spammer. Its subject is collabd's own — the subject of the collabd mail
being answered, or a fixed one — never the incoming mail's: that would relay whatever a
stranger wrote there (`请点击 http://evil…`) to a colleague, from collabd's address.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from typing import TYPE_CHECKING

from sqlalchemy import func, select
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
) -> None:
    """One answer per mail, threaded under it, in the person's locale; rate-limited."""
    now = app.clock.now()
    if not within_rate(session, app, "reply_answer", person, message_id):
        return
    earlier = " ".join(header_values(message, "References")).split()[-20:]
    references = " ".join([*earlier, message_id])
    # collabd's own words only (see the module's docstring).
    subject = answer_subject(answered.subject, str(person.locale)) if answered is not None else ""
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
        },
        collaboration_id=collab.id if collab else None,
        headers={"In-Reply-To": message_id, "References": references[-900:]},
    )


def within_rate(session: Session, app: MailApp, kind: str, person: Person, about: str) -> bool:
    """True, and counted, when `person` may get one more mail of `kind` caused by incoming
    mail (`about`: its Message-ID) this hour; otherwise the mail is not sent, and the log
    says which mail and which person."""
    limit = getattr(app.settings.mail, "answers_per_hour", ANSWERS_PER_HOUR)
    counts = _recent(session, app.clock.now(), kind)
    recent = counts.get(person.email, 0)
    if recent >= limit:
        # The mail by a short hash of its Message-ID and the person by address and name:
        # enough to answer "why did my reply get no answer?" from the log alone.
        log.warning(
            "rate limit: not sending %s to %s (%s) about mail %s: %d already this hour "
            "(mail.answers_per_hour = %d)",
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
