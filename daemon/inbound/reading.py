"""Reading a person's reply: which collabd mail it answers, whose token it carries, and
whether the sender is that person (docs/security.md, "Who is speaking"). The result is a
ReplyContext that the route table hands to a handler.

Runs inside ingest's transaction: the ledger changes, the inbound-log row and the answer
mail commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import re
from email.message import Message
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, event, select, text
from sqlalchemy.orm import Session

from ..mail.answer import CommandResult, answer_reply
from ..mail.envelope import Envelope, ReplyContext, ReplyHandler
from ..mail.headers import header_values
from ..mail.reply import ParsedReply, autoreply, decode, parse_reply
from ..mail.sender import authenticated
from ..mail.tokens import TokenClaims, TokenError, fingerprint
from ..rules.current import calendar_in
from ..store.models import (
    ActionItem,
    Collaboration,
    InboundStatus,
    OutboxMessage,
    Person,
    ReplyFingerprint,
    item_collaborators,
)
from ..store.types import UTCDateTime
from .ambiguous import mixed
from .ended import ended

if TYPE_CHECKING:
    from ..app import App


def read_reply(
    session: Session, app: App, envelope: Envelope, item_commands: ReplyHandler
) -> ReplyContext | tuple[InboundStatus, str]:
    """Decide who is speaking, then parse the reply; a mail that cannot go further is
    decided here.

    Who speaks is settled from the headers alone, before the body is read (a stranger's
    megabyte of text costs a header scan): the token in To/Cc names the person the mail
    was sent to, and only that person's own From address may use it. A reply that lost its
    token (clients that drop Reply-To) is read by its thread, and acts only when From is
    the person that collabd mail was addressed to."""
    message = envelope.message
    if autoreply.headers_say_auto(message):
        return InboundStatus.IGNORED, "automatic reply or bounce: logged, not answered"
    person = None if envelope.sender_problem else _person_by_email(session, envelope.sender)
    thread_ids = header_values(message, "In-Reply-To", "References")
    answered = _answered_mail(session, thread_ids)
    valid, token_problem, token_refusal = _claims(app, message)
    claims, token = valid[0] if valid else (None, "")
    tokenless = claims is None
    token_mail = _token_mail(session, claims, answered)

    if claims is None and answered is None:
        if person is None:
            return InboundStatus.IGNORED, f"no reply token and unknown sender ({token_problem})"
        # A reply to a collabd mail this ledger never sent (another installation's token
        # or thread: a staging or pre-migration collabd on the same mailbox) never acts,
        # not even through the subject's [协作 code]: its numbers may mean other items
        # (operator review F15: 9 replies to the PostgreSQL ledger's mails applied here).
        foreign, refusal = _foreign(app, thread_ids, token_refusal)
        if foreign:
            _refuse(session, app, envelope, None, person, refusal)
            return InboundStatus.IGNORED, f"answers a mail this ledger never sent ({foreign})"
        collab, problem, refusal = _tagged(session, app, envelope, person)
        if collab is None:
            _refuse(session, app, envelope, None, person, refusal or token_refusal)
            return InboundStatus.IGNORED, f"no usable reply token: {problem or token_problem}"
        # A fresh mail "[协作 code] 进度更新" from one of its people: read like a reply,
        # as that person (what they may change is still asked item by item).
        today = app.clock.now().astimezone(app.settings.tz).date()
        claims, token = TokenClaims(person.id, collab.id, today), envelope.message_id
        tokenless = True
    if claims is not None:
        other = answered if answered is not None and answered is not token_mail else None
        if other is not None and other.collaboration_id != claims.collaboration_id:
            _refuse(session, app, envelope, other, person, "other_collaboration")
            return InboundStatus.IGNORED, (
                f"token {fingerprint(token)} is for collaboration {claims.collaboration_id}, "
                f"the thread answered is collaboration {other.collaboration_id}: refused"
            )
        answered = answered or token_mail
        confused = mixed(session, [c for c, _ in valid], answered, token_mail)
        if confused is not None:
            # Only a person those mails went to hears which things were mixed.
            if person is not None and person.id in {c.person_id for c, _ in valid}:
                refusal = CommandResult("ambiguous", then=confused.objects)
                _refuse(session, app, envelope, answered, person, refusal)
            return InboundStatus.IGNORED, f"ambiguous: {confused.why}: nothing changed"
    else:
        claims = _thread_claims(session, app, answered)
        token = answered.message_id
        if claims is None:
            return InboundStatus.IGNORED, "the answered collabd mail has no known recipient"
        # A thread id is no secret (everyone Cc'd once has it): with the MTA named, a reply
        # that carries only the thread must be vouched for, as a fresh tagged mail must
        # (outside re-run N1: a forged From + the coordinator's thread acted as her).
        authserv = app.settings.mail.trusted_authserv_id
        if authserv and not authenticated(message, authserv):
            return InboundStatus.IGNORED, (
                f"thread {fingerprint(token)} without a reply token: {authserv} does not "
                "vouch for the sender: nothing changed, not answered"
            )
        # A thread stands in for a token only as long as the token would have lived: a reply
        # that keeps In-Reply-To must not outlive `reply_token_lifetime` (outside re-run F8).
        if claims.expires < app.clock.now().astimezone(app.settings.tz).date():
            if person is not None and person.id == claims.person_id:
                expired = CommandResult("token_expired", word=claims.expires.isoformat())
                _refuse(session, app, envelope, answered, person, expired)
            return InboundStatus.IGNORED, (
                f"thread {fingerprint(token)}: its reply token expired on "
                f"{claims.expires.isoformat()}: nothing changed"
            )

    if person is None or person.id != claims.person_id:
        why = envelope.sender_problem or (
            f"From {envelope.sender or '(none)'} is not the person the mail was sent to"
        )
        # The real reason, with the address it saw: not "you are not the owner".
        refusal = CommandResult("not_addressed_to_you", word=envelope.sender)
        _refuse(session, app, envelope, answered, person, refusal)
        return InboundStatus.IGNORED, f"token {fingerprint(token)}: {why}: nothing changed"
    closed = ended(session, answered, app.clock.now())  # only its own person hears what closed
    if closed is not None:
        _refuse(session, app, envelope, answered, person, closed.result)
        return InboundStatus.IGNORED, f"token {fingerprint(token)} has ended: {closed.why}"

    parsed = parse_reply(
        envelope.message,
        sent_lines=_sent_lines(answered),
        today=app.clock.now().astimezone(app.settings.tz).date(),
    )
    if parsed.auto_reply:
        return InboundStatus.IGNORED, "automatic reply (its subject, no command): not answered"
    duplicate = _seen_before(session, app, envelope, token, parsed)
    if duplicate:
        return InboundStatus.IGNORED, f"the same commands with the same token as {duplicate}"
    collab_id = claims.collaboration_id
    collab = session.get(Collaboration, collab_id) if collab_id else None
    return ReplyContext(
        session,
        app,
        envelope,
        parsed,
        person,
        claims,
        collab,
        answered,
        item_commands,
        _working_days(session, app),
        tokenless,
    )


def _working_days(session: Session, app: App):
    """The holiday calendar as a day -> bool test, read only if an answer asks (a reply that
    needs no example date costs no query)."""
    calendar = []

    def working_day(day):
        if not calendar:
            calendar.append(calendar_in(session, app))
        return calendar[0].is_working_day(day)

    return working_day


# The tag collabd puts in every subject: "[协作 v2-launch]" (zh-CN), "[collab v2-launch]" (en).
_TAG = re.compile(r"\[\s*(?:协作|協作|collab)\s+(?P<code>[^\]\s]{1,64})\s*\]", re.IGNORECASE)


def _tagged(
    session: Session, app: App, envelope: Envelope, person: Person
) -> tuple[Collaboration | None, str, CommandResult | None]:
    """The collaboration a fresh mail's subject tag names, when its sender is one of that
    collaboration's people and, with mail.trusted_authserv_id set, the MTA vouches for the
    From; else (None, why not for the log, the answer's line)."""
    tag = _TAG.search(envelope.subject[:998])
    if tag is None:
        return None, "", None
    collab = session.scalar(select(Collaboration).where(Collaboration.code == tag["code"]))
    if collab is None:
        refusal = CommandResult("no_token", reason="unknown_collab", word=tag["code"])
        return None, f"no collaboration {tag['code']!r}", refusal
    authserv = app.settings.mail.trusted_authserv_id
    if not authserv:
        # A From anyone can write, and the collaboration's code is in every subject: with
        # no MTA to vouch for it, a fresh mail acts as nobody (outside attack F1).
        why = "mail.trusted_authserv_id is not set: a mail without a token acts as nobody"
        return None, why, CommandResult("no_token", reason="no_mta")
    if not authenticated(envelope.message, authserv):
        why = f"{authserv} does not vouch for the sender of a mail without a token"
        return None, why, CommandResult("no_token", reason="not_vouched")
    if not _member(session, collab, person):
        refusal = CommandResult(
            "no_token", reason="not_member", word=collab.theme, due=collab.coordinator.name
        )
        return None, f"{person.email} is not one of the people of {collab.code}", refusal
    return collab, "", None


def _member(session: Session, collab: Collaboration, person: Person) -> bool:
    """Its initiator, coordinator, a department's contact, an item's owner or collaborator."""
    if person.id in (collab.initiator_id, collab.coordinator_id):
        return True
    if any(p.contact_id == person.id for p in collab.participants):
        return True
    in_items = select(ActionItem.id).where(ActionItem.collaboration_id == collab.id)
    owns = in_items.where(ActionItem.owner_id == person.id).limit(1)
    helps = (
        select(item_collaborators.c.item_id)
        .where(item_collaborators.c.person_id == person.id)
        .where(item_collaborators.c.item_id.in_(in_items))
        .limit(1)
    )
    return session.scalar(owns) is not None or session.scalar(helps) is not None


def _refuse(
    session: Session,
    app: App,
    envelope: Envelope,
    answered: OutboxMessage | None,
    person: Person | None,
    kind: str | CommandResult,
    problem: str = "",
) -> None:
    """Tell a known person the real reason nothing happened. Nobody else is answered: an
    answer to a stranger (or to a forged From) would relay their mail to someone."""
    if person is None:
        return
    collab = session.get(Collaboration, answered.collaboration_id) if answered else None
    answer_reply(
        session,
        app,
        envelope.message,
        envelope.message_id,
        answered,
        person,
        collab if answered and answered.collaboration_id else None,
        [kind if isinstance(kind, CommandResult) else CommandResult(kind)],
        problem,
        _working_days(session, app),
    )


def _attachment_digests(message: Message) -> list[str]:
    """A digest of each attached file's name and encoded body, in order (no decoding
    needed): the same bytes sent again under another name are another delivery."""
    digests = []
    for part in message.walk():
        name = part.get_filename()
        if part.is_multipart() or not name:
            continue
        body = part.get_payload()
        if isinstance(body, str):
            named = f"{name}\0{body}".encode("utf-8", "surrogateescape")
            digests.append(hashlib.sha256(named).hexdigest())
    return digests


def _thread_claims(session: Session, app: App, answered: OutboxMessage) -> TokenClaims | None:
    """What a thread alone says: the person that mail was sent to, in its collaboration,
    for the token lifetime after it was sent."""
    recipient = _person_by_email(session, answered.recipients.split(",")[0].strip())
    if recipient is None:
        return None
    expires = (answered.created_at + app.tokens.ttl).date()
    return TokenClaims(recipient.id, answered.collaboration_id, expires, answered.message_id)


def _seen_before(
    session: Session, app: App, envelope: Envelope, token: str, parsed: ParsedReply
) -> str:
    """The Message-ID of an earlier mail with the same token and the same commands ("" if
    none); otherwise this mail is remembered as such. Mail without commands (a question,
    minutes text) is not compared: only commands repeat harmfully."""
    said = [c.to_json() for c in parsed.commands] + [a.to_json() for a in parsed.acceptance]
    if parsed.minutes is not None:
        said.append(parsed.minutes.to_json())
    said += [repr(edit) for edit in parsed.edits]  # the coordinator's 转交 / 截止 / 取消
    if not said:
        return ""
    said += _attachment_digests(envelope.message)  # `#1 完成` with another file is new
    digest = hashlib.sha256(
        (token + "\n" + json.dumps(said, sort_keys=True, default=str)).encode()
    ).hexdigest()
    # One statement: this mail is remembered, or the mail remembered first is returned (a
    # lookup and an insert were two round trips of the ~14 a reply costs on PostgreSQL).
    earlier = (
        session.connection()
        .execute(
            _REMEMBER,
            {"fingerprint": digest, "message_id": envelope.message_id, "at": app.clock.now()},
        )
        .scalar_one()
    )
    return earlier if earlier != envelope.message_id else ""


# The same text on SQLite and PostgreSQL. DO UPDATE (of nothing) rather than DO NOTHING, so
# that a fingerprint already there still returns its row: the Message-ID remembered first.
_REMEMBER = text(
    f"INSERT INTO {ReplyFingerprint.__tablename__} (fingerprint, message_id, created_at) "
    "VALUES (:fingerprint, :message_id, :at) "
    "ON CONFLICT (fingerprint) DO UPDATE SET fingerprint = excluded.fingerprint "
    "RETURNING message_id"
).bindparams(bindparam("at", type_=UTCDateTime()))


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


def _claims(app: App, message: Message) -> tuple[list[tuple[TokenClaims, str]], str, CommandResult]:
    """The valid tokens in the mail's addresses (claims, token), first found first; when
    there is none, why (for the log) and the answer's line saying so.

    The headers' text as it is: the token pattern finds `collab+TOKEN@…` in it without
    parsing every address first."""
    candidates = app.tokens.find(
        header_values(message, "To", "Cc", "Delivered-To", "X-Original-To")
    )
    problem = "the mail does not answer a collabd mail"
    refusal = CommandResult("no_token", reason="none")
    valid = []
    for token in candidates[:MAX_TOKENS]:
        try:
            valid.append((app.tokens.verify(token, app.clock.now()), token))
        except TokenError as exc:
            problem = str(exc)
            if exc.reason == "expired":
                refusal = CommandResult("token_expired", word=exc.expires.isoformat())
            else:
                refusal = CommandResult("no_token", reason=exc.reason)
    return valid, "" if valid else problem, refusal


def _foreign(
    app: App, thread_ids: list[str], token_refusal: CommandResult
) -> tuple[str, CommandResult]:
    """Why the mail answers a collabd mail this ledger did not send ("" when it does not),
    and the answer's line: its In-Reply-To is a collabd Message-ID (our domain, collabd's
    form) missing from this ledger's outbox — another installation's mail — or it carries a
    reply token that does not verify here (damaged, or another installation's). An expired
    token is the expired answer's business, not this one's."""
    first = next((v.split()[0] for v in thread_ids[:1] if v.split()), "")
    if first and app.tokens.thread_of(first) is not None:
        why = "In-Reply-To names a collabd mail not in this ledger's outbox"
        return why, CommandResult("no_token", reason="foreign")
    if token_refusal.kind == "no_token" and token_refusal.reason in ("forged", "damaged"):
        return f"a reply token this ledger cannot verify: {token_refusal.reason}", token_refusal
    return "", token_refusal


MAX_TOKENS = 5  # a mail naming more candidate tokens than this is not a person's reply
MAX_THREAD_IDS = 20  # the newest References: a reply answers a recent collabd mail


def _answered_mail(session: Session, thread_ids: list[str]) -> OutboxMessage | None:
    """The collabd mail this one replies to, if any (its Message-ID is in the thread).

    In-Reply-To first, then the newest References: a References header of 10,000 ids is
    not 10,000 lookups."""
    ids = [part for value in thread_ids for part in value.split() if part.startswith("<")]
    ids = list(dict.fromkeys(ids[:1] + ids[-MAX_THREAD_IDS:]))
    if not ids:
        return None
    return session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.message_id.in_(ids))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )


def _token_mail(
    session: Session, claims: TokenClaims | None, answered: OutboxMessage | None
) -> OutboxMessage | None:
    """The collabd mail the reply token was issued with. Almost always the mail answered,
    already loaded: asking again by Message-ID was a round trip per reply."""
    if claims is None or not claims.thread:
        return None
    if answered is not None and answered.message_id == claims.thread:
        return answered
    return _mail_by_id(session, claims.thread)


def _mail_by_id(session: Session, message_id: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))


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
