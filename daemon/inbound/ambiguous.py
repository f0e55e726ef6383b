"""A reply that answers two things at once is answered by nobody's guess.

A mail whose To/Cc carry reply tokens of two different people, or whose tokens and the
collabd mail it answers (In-Reply-To, else the newest of References) are about two
different objects — item #1 and item #3, an item and a meeting, two meetings' minutes —
cannot be read as one reply: whichever collabd picked, `通过` or `#3 完成` would land on
something its writer may not have meant (an address book's remembered `collab+TOKEN@…`
in a reply to another mail is enough). Nothing is applied; the sender, when they are one
of the people those mails went to, is told which things were mixed and to answer one mail
at a time.

A collaboration-wide mail (kick-off, digest, an earlier answer) names no one object, so
it mixes with nothing of its own collaboration; another collaboration's thread has its
own refusal (reading.py, "other_collaboration").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..mail.tokens import TokenClaims
from ..store.models import ActionItem, Meeting, Minutes, OutboxMessage, Person


@dataclass(frozen=True)
class Mixed:
    """What was mixed: each object in the reader's terms, and the log's line."""

    objects: list[dict]  # {"kind": "item"|"meeting"|"minutes"|"person", "number", "title"}
    why: str


def mixed(
    session: Session,
    tokens: list[TokenClaims],
    answered: OutboxMessage | None,
    token_mail: OutboxMessage | None = None,
) -> Mixed | None:
    """None when the tokens and the answered mail agree on one person and one object.
    `token_mail`: the first token's mail, already looked up by the caller."""
    if len(tokens) == 1 and (answered is None or answered is token_mail):
        return None  # one token answering its own mail: the common reply, no query
    people = list(dict.fromkeys(claims.person_id for claims in tokens))
    if len(people) > 1:
        return Mixed(
            [{"kind": "person", "number": None, "title": name} for name in _names(session, people)],
            f"reply tokens of {len(people)} different people",
        )
    known = {token_mail.message_id: token_mail} if token_mail is not None else {}
    rows = [
        known.get(claims.thread) or _mail(session, claims.thread)
        for claims in tokens
        if claims.thread
    ]
    rows = [row for row in [*rows, answered] if row is not None]
    objects: dict[tuple[str, int], OutboxMessage] = {}
    for row in rows:
        key = object_of(row)
        if key is not None:
            objects.setdefault(key, row)
    if len(objects) < 2:
        return None
    shown = [_describe(session, kind, ident) for kind, ident in objects]
    shown.sort(key=lambda seen: (seen["kind"], seen["number"] or 0, seen["title"]))
    keys = ", ".join(f"{kind} {ident}" for kind, ident in objects)
    return Mixed(shown, f"tokens and thread name {len(objects)} different objects ({keys})")


def object_of(row: OutboxMessage) -> tuple[str, int] | None:
    """The one thing a collabd mail is about (None: the collaboration as a whole).
    An acceptance round belongs to its item, minutes to the minutes, not their meeting."""
    if row.minutes_id:
        return "minutes", row.minutes_id
    if row.meeting_id:
        return "meeting", row.meeting_id
    if row.item_id:
        return "item", row.item_id
    return None


def _describe(session: Session, kind: str, ident: int) -> dict:
    if kind == "item":
        item = session.get(ActionItem, ident)
        return {"kind": kind, "number": item.number, "title": item.description}
    if kind == "meeting":
        return {"kind": kind, "number": None, "title": session.get(Meeting, ident).title}
    minutes = session.get(Minutes, ident)
    return {"kind": kind, "number": minutes.version, "title": minutes.meeting.title}


def _names(session: Session, person_ids: list[int]) -> list[str]:
    found = {p.id: p.name for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))}
    return [found.get(pid, "?") for pid in person_ids]


def _mail(session: Session, message_id: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
