"""The outbox: mail is queued in the ledger's transaction, and sent afterwards (mail/send.py).

Queueing in the same transaction as the change means a notification exists if and only if
the change does. The unique dedupe key means it exists at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.orm import Session

from ..store.models import OutboxMessage, OutboxStatus, Person
from .compose import Attachment, CalendarPart, compose
from .context import MailApp
from .render import Renderer
from .tokens import MailIdentity

log = logging.getLogger(__name__)


def enqueue(
    session: Session,
    *,
    renderer: Renderer,
    identity: MailIdentity,
    now: datetime,
    kind: str,
    dedupe_key: str,
    to: Person,
    context: dict,
    collaboration_id: int | None = None,
    item_id: int | None = None,
    meeting_id: int | None = None,
    minutes_id: int | None = None,
    rule_id: str | None = None,
    rule_level: int | None = None,
    not_before: datetime | None = None,
    headers: dict[str, str] | None = None,
    calendar: CalendarPart | None = None,
    attachments: Sequence[Attachment] = (),
    answers_thread: str | None = None,
    status: OutboxStatus = OutboxStatus.PENDING,
    last_error: str = "",
) -> bool:
    """Queue one mail to one person, in their locale. False if it was already queued.

    `rule_id`/`rule_level` record which rule and escalation level decided to send it;
    `item_id`, `meeting_id` and `minutes_id` what it is about (a reply to it is routed by
    its `kind` and these, see inbound/routes.py).

    `answers_thread`: the Message-ID of an earlier collabd mail this one follows up (an
    acceptance round's reminder follows its request). The mail is threaded under it and its
    reply token is that mail's: answering either acts on the same object, with one
    credential for it, not a new one per reminder.

    `status` and `last_error`: a row kept but never sent as such (an answer held for the
    digest) is inserted CANCELLED with its reason, in the one statement."""
    mail = renderer.render(kind, to.locale, recipient=to, **context)
    # The Message-ID names the thread only; the credential is in Reply-To (mail/tokens.py).
    thread = identity.tokens.thread_id(dedupe_key)
    message_id = identity.tokens.message_id(thread)
    token_thread = thread
    if answers_thread:
        token_thread = identity.tokens.thread_of(answers_thread) or thread
        follow = {"In-Reply-To": answers_thread, "References": answers_thread}
        headers = {**follow, **(headers or {})}
    token = identity.tokens.issue(to.id, collaboration_id, now, token_thread)
    raw = compose(
        mail,
        sender_name=identity.name,
        sender_address=identity.address,
        to=[(to.name, to.email)],
        message_id=message_id,
        date=now,
        kind=kind,
        reply_to=identity.tokens.reply_address(token),
        extra_headers=headers,
        calendar=calendar,
        attachments=attachments,
    )
    values = dict(
        dedupe_key=dedupe_key,
        message_id=message_id,
        kind=kind,
        sender=identity.address,
        recipients=to.email,
        subject=mail.subject,
        raw=raw,
        collaboration_id=collaboration_id,
        item_id=item_id,
        meeting_id=meeting_id,
        minutes_id=minutes_id,
        rule_id=rule_id,
        rule_level=rule_level,
        status=status,
        not_before=not_before or now,
        created_at=now,
        attempts=0,
        last_error=last_error,
    )
    # On the session's connection, not session.execute: the ORM would autoflush first, and
    # everything this row points at already has its id (so it is in the database).
    return session.connection().execute(_INSERT_IF_NEW, values).first() is not None


def queue_mail(session: Session, app: MailApp, *, now: datetime | None = None, **mail) -> bool:
    """`enqueue` as collabd's parts call it: with the app's renderer, identity and clock
    (`now` only when the caller decides for another instant, e.g. a tick's)."""
    return enqueue(
        session,
        renderer=app.renderer,
        identity=app.identity,
        now=now or app.clock.now(),
        **mail,
    )


def _insert_if_new() -> TextClause:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, the same text on SQLite and PostgreSQL.

    Written as text because SQLAlchemy 2.0 never caches its dialect `insert().on_conflict_*`
    constructs: it compiled the statement again for every queued mail (a third of queueing
    an answer in bench/ingest.py). The column types still convert the values."""
    columns = [column for column in _OUTBOX.c if column.name in _ENQUEUED_COLUMNS]
    names = ", ".join(column.name for column in columns)
    params = ", ".join(f":{column.name}" for column in columns)
    return (
        text(
            f"INSERT INTO {_OUTBOX.name} ({names}) VALUES ({params}) "
            f"ON CONFLICT DO NOTHING RETURNING id"
        )
        .bindparams(*(bindparam(column.name, type_=column.type) for column in columns))
        .columns(_OUTBOX.c.id)
    )


_OUTBOX = OutboxMessage.__table__
# What enqueue() sets; the other columns belong to the sender (claims, attempts, sent_at).
_ENQUEUED_COLUMNS = {
    "dedupe_key",
    "message_id",
    "kind",
    "sender",
    "recipients",
    "subject",
    "raw",
    "collaboration_id",
    "item_id",
    "meeting_id",
    "minutes_id",
    "rule_id",
    "rule_level",
    "status",
    "not_before",
    "created_at",
    "attempts",
    "last_error",
}
# No row back means the dedupe key existed and nothing was queued.
_INSERT_IF_NEW = _insert_if_new()
