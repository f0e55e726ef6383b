"""Self-service: `我的任务` / `my items` from a known person, answered with their open items.

A mail to the collabd address whose subject, or the first line of its text, is one of the
words below asks for the sender's open action items across collaborations. The answer is
one mail per collaboration: each carries that collaboration's reply token, so a reply to it
works exactly like a reply to a reminder (`#3 完成`), and every `#N` line resolves to the
collaboration its mail is about (docs/security.md: a token names one collaboration).

Only a known person whose From the MTA does not doubt is answered, and only at their own
address: the list never goes to whoever wrote the mail.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..mail.answer import within_rate
from ..mail.outbox import queue_mail
from ..mail.reply import decode
from ..store.models import (
    CLOSED_STATUSES,
    ActionItem,
    Collaboration,
    CollabStatus,
    InboundStatus,
    Person,
)

if TYPE_CHECKING:
    from ..app import App
    from ..mail.envelope import Decision, Envelope

WORDS = ("我的任务", "我的待办", "我的行动项", "我的任務", "my items", "my tasks", "my todo")
_ASK = re.compile(
    r"^\s*(?:(?:re|fw|fwd|回复|答复|转发)\s*[:：]\s*)*(?:"
    + "|".join(re.escape(w) for w in WORDS)
    + r")\s*[?？!！。.]?\s*$",
    re.I,
)
FIRST_LINES = 5  # the text's first non-empty line, looked for among the first few


def asks_for_my_items(app: App, envelope: Envelope) -> bool:
    """Linear: one match on the subject, then, for a new mail (not a reply), at most the
    first few lines of its text."""
    if envelope.sender_problem or not envelope.sender:
        return False
    if _ASK.match(envelope.subject[:200]):
        return True
    if envelope.message.get("In-Reply-To") or envelope.message.get("References"):
        return False  # a reply to a collabd mail is read for commands, not asked this
    body, is_html = decode.best_body(envelope.message)
    if is_html:
        body = re.sub(r"<[^>]{0,2000}>", " ", body[:4000])
    for line in body[:4000].splitlines()[:FIRST_LINES]:
        if line.strip():
            return bool(_ASK.match(line[:200]))
    return False


def answer_my_items(session: Session, app: App, envelope: Envelope) -> Decision:
    person = session.scalar(select(Person).where(Person.email == envelope.sender))
    if person is None:  # strangers are not answered: an answer would relay their mail
        return InboundStatus.IGNORED, "asked for 我的任务 from an unknown address: not answered"
    if not within_rate(session, app, "my_items", person, envelope.message_id):
        return InboundStatus.IGNORED, "asked for 我的任务 too often this hour: not answered"
    items = open_items(session, person)
    by_collab: dict[int, list[ActionItem]] = {}
    for item in items:
        by_collab.setdefault(item.collaboration_id, []).append(item)
    thread = {"In-Reply-To": envelope.message_id, "References": envelope.message_id}
    groups = list(by_collab.values()) or [[]]
    for index, owned in enumerate(groups, start=1):
        collab = owned[0].collaboration if owned else None
        queue_mail(
            session,
            app,
            kind="my_items",
            dedupe_key=f"my_items:{envelope.message_id}:{collab.id if collab else 0}",
            to=person,
            context={
                "collab": collab,
                "items": owned,
                "part": index,
                "parts": len(groups),
            },
            collaboration_id=collab.id if collab else None,
            item_id=owned[0].id if len(owned) == 1 else None,
            headers=thread,
        )
    return (
        InboundStatus.APPLIED,
        f"我的任务: {len(items)} open item(s) in {len(by_collab)} collaboration(s), "
        f"{len(groups)} answer mail(s)",
    )


def open_items(session: Session, person: Person) -> list[ActionItem]:
    """The person's open items in running collaborations, soonest deadline first."""
    return list(
        session.scalars(
            select(ActionItem)
            .join(Collaboration)
            .where(
                ActionItem.owner_id == person.id,
                ActionItem.status.not_in(CLOSED_STATUSES),
                Collaboration.status == CollabStatus.ACTIVE,
            )
            .options(selectinload(ActionItem.collaboration))
            .order_by(
                Collaboration.code,
                ActionItem.deadline.is_(None),
                ActionItem.deadline,
                ActionItem.number,
            )
        )
    )
