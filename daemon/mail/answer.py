"""The answer to a person's reply: one mail, threaded under theirs, in their locale.

Rate-limited per recipient, so a mail loop or a flood never turns collabd into a spammer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store.models import ActionItem, ItemStatus, OutboxMessage, Person
from .headers import header_values
from .outbox import queue_mail

if TYPE_CHECKING:
    from ..store.models import Collaboration
    from .context import MailApp

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


def answer_reply(
    session: Session,
    app: MailApp,
    message: Message,
    message_id: str,
    subject: str,
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
    earlier = " ".join(header_values(message, "References")).split()
    references = " ".join([*earlier, message_id])
    subject = (
        subject if subject.lower().startswith(("re:", "回复", "答复")) else f"Re: {subject}".strip()
    )
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
        },
        collaboration_id=collab.id if collab else None,
        headers={"In-Reply-To": message_id, "References": references[-900:]},
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
