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

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..closing import replies as closing
from ..mail.compose import LOOP_HEADER
from ..mail.envelope import Decision, Envelope, ReplyHandler
from ..mail.sender import ON_BEHALF, authentication_problem, dmarc_pass, strict_address
from ..minutes import replies as minutes_replies
from ..rules.delay import answer_delay
from ..store.models import InboundStatus
from .items import apply_item_commands
from .my_items import answer_my_items, asks_for_my_items
from .reading import read_reply

if TYPE_CHECKING:
    from ..app import App


def _on_first_use(module: str, name: str) -> Callable:
    """A handler imported by the first mail it handles: the calendar's (icalendar and its
    recurrence library, some 4 MiB) is loaded by the first calendar mail, not by every
    start of the daemon (bench/lean.py measures the idle daemon's memory)."""

    def handler(*args, **kwargs):
        return getattr(importlib.import_module(module, __package__), name)(*args, **kwargs)

    handler.__name__ = name
    return handler


handle_calendar = _on_first_use("..calendar.inbox", "handle_calendar")
answer_proposal = _on_first_use("..calendar.counter", "answer_proposal")
link_from_reply = _on_first_use("..calendar.incoming", "link_from_reply")
answer_next_meeting = _on_first_use("..calendar.next_meeting", "answer_question")


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


def _vouched(app: App, envelope: Envelope) -> Envelope:
    """A calendar answer a calendar service sent on the From person's behalf (Google
    Calendar's `Sender: calendar-notification@google.com`) speaks for them when the admin's
    MTA says the From domain's DMARC passed.

    Only calendar mail, and only a Sender of another domain than From's: a colleague's
    "send on behalf" (an Exchange delegate, same domain) also passes DMARC for the From
    domain, and with it 赵敏 changed 张伟's item (outside re-run F4)."""
    if (
        envelope.sender_problem == ON_BEHALF
        and has_calendar_part(app, envelope)
        and _sender_domain(envelope) not in ("", _domain(envelope.sender))
        and dmarc_pass(envelope.message, app.settings.mail.trusted_authserv_id)
    ):
        return replace(envelope, sender_problem="")
    return envelope


def _sender_domain(envelope: Envelope) -> str:
    """The domain of the one plain `Sender:` address ("" when there is none such)."""
    raw = envelope.message.get_all("Sender") or []
    if len(raw) != 1:
        return ""
    address, problem = strict_address(str(raw[0]))
    return "" if problem else _domain(address)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def is_not_authentic(app: App, envelope: Envelope) -> bool:
    """The admin's MTA says the mail is not from whom it claims (mail/sender.py)."""
    return bool(_authentication_problem(app, envelope))


def drop_unauthentic(session: Session, app: App, envelope: Envelope) -> Decision:
    """Nothing changes and nobody is answered: an answer would go to the forged From."""
    why = _authentication_problem(app, envelope)
    return InboundStatus.IGNORED, f"not authentic: {why}; nothing changed, not answered"


def _authentication_problem(app: App, envelope: Envelope) -> str:
    return authentication_problem(envelope.message, app.settings.mail.trusted_authserv_id)


def has_calendar_part(app: App, envelope: Envelope) -> bool:
    """An iMIP mail: a text/calendar part (REQUEST, REPLY, CANCEL, COUNTER …)."""
    return any(part.get_content_type() == "text/calendar" for part in envelope.message.walk())


def any_mail(app: App, envelope: Envelope) -> bool:
    return True


def handle_reply(session: Session, app: App, envelope: Envelope) -> Decision:
    """A person's mail: find its token and the collabd mail it answers, then its handler."""
    context = read_reply(session, app, envelope, apply_item_commands)
    if isinstance(context, tuple):  # auto-reply, no token …: already decided
        return context
    kind = context.answered.kind if context.answered is not None else ""
    handler = REPLY_HANDLERS.get(kind, apply_item_commands)
    return handler(context)


def exchange_meeting_answer(app: App, envelope: Envelope) -> bool:
    from ..calendar.ews_route import is_exchange_meeting_answer  # calendar.backend = ews|graph

    return is_exchange_meeting_answer(app, envelope)


def apply_exchange_meeting_answer(session: Session, app: App, envelope: Envelope) -> Decision:
    from ..calendar.ews_route import apply_exchange_meeting_answer as apply

    return apply(session, app, envelope)


ROUTES: tuple[Route, ...] = (
    Route("loop", "collabd's own mail coming back", is_own_mail, drop_own_mail),
    Route(
        "untrusted",
        "the MTA's Authentication-Results say the From is forged (mail.trusted_authserv_id)",
        is_not_authentic,
        drop_unauthentic,
    ),
    Route(
        "exchange-rsvp",
        "an answer to a meeting in Exchange's calendar (calendar.backend = ews or graph)",
        exchange_meeting_answer,
        apply_exchange_meeting_answer,
    ),
    Route(
        "calendar",
        "iMIP: invitations, answers and cancellations",
        has_calendar_part,
        handle_calendar,  # daemon/calendar/inbox.py
    ),
    Route(
        "my-items",
        "a known person asks for their open items (我的任务 / my items)",
        asks_for_my_items,
        answer_my_items,  # daemon/inbound/my_items.py
    ),
    Route("reply", "a person's mail, read for commands", any_mail, handle_reply),
)

# kind of the answered collabd mail (OutboxMessage.kind) -> handler
REPLY_HANDLERS: dict[str, ReplyHandler] = {
    # the organizer of an Outlook meeting says which collaboration it belongs to
    "meeting_which_collab": link_from_reply,
    "acceptance_request": closing.handle_acceptance_reply,  # 通过 / 不通过：原因
    "retrospective_request": closing.handle_retrospective_reply,  # 亮点 / 不足 / 改进建议
    # minutes (daemon/minutes/replies.py): the recorder's filled form, attendees' verdicts
    "minutes_request": minutes_replies.minutes_from_reply,
    "minutes_problems": minutes_replies.minutes_from_reply,
    "minutes_objection": minutes_replies.minutes_from_reply,
    "minutes_published": minutes_replies.verdict_on_minutes,
    "minutes_unconfirmed": minutes_replies.verdict_on_minutes,  # the chase: 请确认会议纪要
    "minutes_answer": minutes_replies.reply_to_answer,
    "delay_approval": answer_delay,  # the initiator approves or rejects an owner's new date
    "next_meeting_question": answer_next_meeting,  # `同意`: hold it at the earliest time
    # the coordinator accepts (同意) or declines (不同意) an attendee's proposed new time
    "meeting_answer_notice": answer_proposal,
}


def route(session: Session, app: App, envelope: Envelope) -> Decision:
    envelope = _vouched(app, envelope)
    for candidate in ROUTES:
        if candidate.matches(app, envelope):
            status, why = candidate.handle(session, app, envelope)
            return status, f"[{candidate.name}] {why}"
    raise AssertionError("the last route matches every mail")
