"""Where an incoming mail goes: two small data tables, read top to bottom.

`ROUTES` looks at the mail itself: the first route whose `matches` is true handles it.
A person's reply to a collabd mail then goes by the *kind* of the collabd mail it answers
(`REPLY_HANDLERS`: a minutes request expects filled-in minutes, an acceptance request a
verdict …); a reply to anything else is read for item commands (`#3 完成`).

Every handler runs inside ingest's transaction and returns (status, why): the why is
stored in the inbound log, so every decision can be looked up later.
To teach collabd a new kind of mail, add a row; the rest of ingest does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..rules.delay import answer_delay
from ..store.models import InboundStatus
from .apply import ReplyContext, apply_item_commands, read_reply
from .compose import LOOP_HEADER

if TYPE_CHECKING:
    from ..app import App
    from .ingest import Envelope

Decision = tuple[InboundStatus, str]
ReplyHandler = Callable[[ReplyContext], Decision]


@dataclass(frozen=True)
class Route:
    name: str
    description: str
    matches: Callable[[App, Envelope], bool]
    handle: Callable[[Session, App, Envelope], Decision]


def is_own_mail(app: App, envelope: Envelope) -> bool:
    own = app.settings.mail.address
    loop = str(envelope.message.get(LOOP_HEADER, "")).strip().lower()
    return loop == own or envelope.sender == own


def drop_own_mail(session: Session, app: App, envelope: Envelope) -> Decision:
    return InboundStatus.IGNORED, "collabd's own mail came back (loop header): dropped"


def has_calendar_part(app: App, envelope: Envelope) -> bool:
    """An iMIP mail: a text/calendar part (REQUEST, REPLY, CANCEL, COUNTER …)."""
    return any(part.get_content_type() == "text/calendar" for part in envelope.message.walk())


def calendar_not_handled(session: Session, app: App, envelope: Envelope) -> Decision:
    return InboundStatus.IGNORED, "calendar mail: meetings are not handled by this version"


def any_mail(app: App, envelope: Envelope) -> bool:
    return True


def handle_reply(session: Session, app: App, envelope: Envelope) -> Decision:
    """A person's mail: find its token and the collabd mail it answers, then its handler."""
    context = read_reply(session, app, envelope)
    if isinstance(context, tuple):  # auto-reply, no token …: already decided
        return context
    kind = context.answered.kind if context.answered is not None else ""
    handler = REPLY_HANDLERS.get(kind, apply_item_commands)
    return handler(context)


ROUTES: tuple[Route, ...] = (
    Route("loop", "collabd's own mail coming back", is_own_mail, drop_own_mail),
    Route(
        "calendar",
        "iMIP: invitations, answers and cancellations",
        has_calendar_part,
        calendar_not_handled,
    ),
    Route("reply", "a person's mail, read for commands", any_mail, handle_reply),
)

# kind of the answered collabd mail (OutboxMessage.kind) -> handler
REPLY_HANDLERS: dict[str, ReplyHandler] = {
    "delay_approval": answer_delay,  # the initiator approves or rejects an owner's new date
}


def route(session: Session, app: App, envelope: Envelope) -> Decision:
    for candidate in ROUTES:
        if candidate.matches(app, envelope):
            status, why = candidate.handle(session, app, envelope)
            return status, f"[{candidate.name}] {why}"
    raise AssertionError("the last route matches every mail")
