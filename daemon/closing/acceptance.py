"""Acceptance (成果验收): a delivered item is checked against its done-criteria by its receiver.

Rounds: the first `#N 完成` opens round 1 and mails the receiver an acceptance request with
the files; a rejection sends the item back to in_progress and tells the owner why; the next
delivery opens round 2, and so on. Every round stays in the ledger: that is the trail
`collabd items show` and the archive print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, selectinload

from ..ledger.history import Origin, record_on
from ..ledger.items import ItemChange, still_active, update_item
from ..mail.compose import Attachment
from ..mail.outbox import queue_mail
from ..store.models import (
    AcceptanceRequest,
    ActionItem,
    Deliverable,
    ItemStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Verdict,
)
from .delays import withdraw_on_done
from .files import IncomingFile, path_part, safe_filename, unique_name, write_file

if TYPE_CHECKING:
    from ..app import App

REQUEST_KIND = "acceptance_request"
RESULT_KIND = "acceptance_result"


def receiver_for(item: ActionItem) -> Person:
    """Who accepts the item: its named receiver, else the initiator (seed 000: 由发起人组织
    相关方验收). Nobody accepts their own work: then the coordinator does."""
    collab = item.collaboration
    receiver = item.receiver or collab.initiator
    if receiver.id == item.owner_id and collab.coordinator_id != item.owner_id:
        receiver = collab.coordinator
    return receiver


def latest_request(session: Session, item: ActionItem) -> AcceptanceRequest | None:
    # Without autoflush: a request is flushed as soon as it is made (deliver), and a changed
    # one is read from the identity map as changed; flushing the caller's item was a second
    # flush for every `#N 完成`.
    with session.no_autoflush:
        return session.scalar(_LATEST_REQUEST, {"item_id": item.id})


_LATEST_REQUEST = (
    select(AcceptanceRequest)
    .where(AcceptanceRequest.item_id == bindparam("item_id"))
    .order_by(AcceptanceRequest.round.desc())
    .limit(1)
)


def rounds(session: Session, item: ActionItem) -> list[AcceptanceRequest]:
    return list(
        session.scalars(
            select(AcceptanceRequest)
            .where(AcceptanceRequest.item_id == item.id)
            .order_by(AcceptanceRequest.round)
        )
    )


def all_rounds(session: Session, items: list[ActionItem]) -> dict[int, list[AcceptanceRequest]]:
    """rounds() of many items in a few queries: item id -> its rounds, oldest first."""
    found: dict[int, list[AcceptanceRequest]] = {}
    ids = [item.id for item in items]
    for start in range(0, len(ids), 500):  # bounded IN lists
        for request in session.scalars(
            select(AcceptanceRequest)
            .where(AcceptanceRequest.item_id.in_(ids[start : start + 500]))
            .options(selectinload(AcceptanceRequest.deliverables))
            .order_by(AcceptanceRequest.item_id, AcceptanceRequest.round)
        ):
            found.setdefault(request.item_id, []).append(request)
    return found


def pending_since(
    session: Session, before: datetime, collaboration_id: int | None = None
) -> list[AcceptanceRequest]:
    """Acceptance requests still waiting for a verdict that were made before `before`.

    The rules engine's question for its review reminder ([acceptance] review_within): ask
    with `before = now - review_within` (on the working-day calendar)."""
    query = select(AcceptanceRequest).where(
        AcceptanceRequest.verdict == Verdict.PENDING,
        AcceptanceRequest.requested_at < before,
        still_active(AcceptanceRequest.collaboration_id),  # archived: nobody is asked again
    )
    if collaboration_id is not None:
        query = query.where(AcceptanceRequest.collaboration_id == collaboration_id)
    return list(session.scalars(query.order_by(AcceptanceRequest.requested_at)))


@dataclass
class Delivery:
    """What one delivery did: files kept, files refused (too large), the round it went to."""

    request: AcceptanceRequest | None = None
    stored: list[Deliverable] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)
    round_full: list[str] = field(default_factory=list)  # over archive.max_round_mb together
    requested: bool = False  # an acceptance request mail was queued
    added_later: bool = False  # the round was asked already: its new files follow later
    already_accepted: bool = False


def deliver(
    session: Session,
    app: App,
    item: ActionItem,
    files: list[IncomingFile],
    origin: Origin,
    *,
    just_done: bool,
) -> Delivery:
    """An owner said the item is done, maybe with files. Keep the files in the open round
    (opening one if the item was not already waiting for acceptance) and ask the receiver.

    `just_done` is true when this very command moved the item to done; an item that was done
    already only takes more files into its pending round."""
    outcome = Delivery()
    if just_done:
        withdraw_on_done(session, app, item, origin)
    latest = latest_request(session, item)
    if latest is not None and latest.verdict is Verdict.ACCEPTED:
        outcome.already_accepted = bool(files)
        return outcome
    if latest is not None and latest.verdict is Verdict.PENDING:
        if not files:
            return outcome  # the receiver has been asked already; nothing new to show them
        request = latest
    elif just_done or files or latest is None:
        request = AcceptanceRequest(
            item_id=item.id,
            collaboration_id=item.collaboration_id,
            round=(latest.round + 1) if latest else 1,
            receiver_id=receiver_for(item).id,
            requested_at=app.clock.now(),
            requested_by=origin.source,
            verdict=Verdict.PENDING,
            note="",
            deliverables=[],  # known empty: reading it later needs no query
        )
        session.add(request)
        session.flush()
    else:
        return outcome
    outcome.request = request
    if files:
        _store(session, app, item, request, files, origin, outcome)
    if request is latest and not outcome.stored:
        return outcome  # every file refused (too large): nothing new for the receiver
    # A round opened just now has asked no one yet: no earlier request mail to look for.
    sent = _sent_request(session, request) if request is latest else None
    if sent is not None:  # asked already: the new files follow in a reminder, not a request
        outcome.added_later = _remind_round(
            session,
            app,
            item,
            request,
            origin,
            sent,
            reminder=False,
            rule_id=None,
            at=app.clock.now(),
        )
    else:
        outcome.requested = _ask_receiver(
            session, app, item, request, origin, new_round=request is not latest
        )
    return outcome


def _store(
    session: Session,
    app: App,
    item: ActionItem,
    request: AcceptanceRequest,
    files: list[IncomingFile],
    origin: Origin,
    outcome: Delivery,
) -> None:
    limit = int(app.settings.archive.max_attachment_mb * 1024 * 1024)
    room = int(app.settings.archive.max_round_mb * 1024 * 1024)
    room -= sum(d.size for d in request.deliverables)
    folder = (
        f"deliverables/{path_part(item.collaboration.code)}/{item.number}/round-{request.round}"
    )
    taken = {d.filename for d in request.deliverables}
    now = app.clock.now()
    for index, incoming in enumerate(files, start=1):
        shown = incoming.filename or f"attachment-{index}"
        if incoming.size > limit:
            outcome.too_large.append(shown)
            continue
        if incoming.size > room:
            outcome.round_full.append(shown)
            continue
        room -= incoming.size
        name = unique_name(safe_filename(incoming.filename, f"attachment-{index}.bin"), taken)
        taken.add(name)
        relative = f"{folder}/{name}"
        write_file(app.settings.data_dir / relative, incoming.content)
        deliverable = Deliverable(
            item_id=item.id,
            request=request,
            filename=name,
            original_filename=incoming.filename,
            content_type=incoming.content_type or "application/octet-stream",
            size=incoming.size,
            sha256=incoming.sha256,
            path=relative,
            submitted_by_id=origin.person.id if origin.person else None,
            source=origin.source,
            submitted_at=now,
        )
        session.add(deliverable)
        outcome.stored.append(deliverable)
        record_on(
            session,
            origin,
            now,
            item,
            action="delivered",
            new=f"{name} ({incoming.size} bytes, sha256 {incoming.sha256[:12]}…)",
            note=f"round {request.round}",
        )
    session.flush()


def _ask_receiver(
    session: Session,
    app: App,
    item: ActionItem,
    request: AcceptanceRequest,
    origin: Origin,
    *,
    reminder: bool = False,
    rule_id: str | None = None,
    now: datetime | None = None,  # the tick's instant, for a reminder
    new_round: bool = False,
) -> bool:
    """One acceptance request per round (a round = one submission of a done item), and
    every later mail about the round a reminder that says so, answered with the round's
    own token.

    The request goes at once. Files that come while it still waits in the outbox replace
    it (one request, all files). Files that come once it has gone are kept in the round
    and sent, after `archive.acceptance_quiet` without more, in one reminder that names
    them as added (补充成果物) and carries only those: the receiver is never asked twice
    for the same round (10 files sent one by one used to make a second request, and before
    that ten, each with every earlier file: 79 MB). A `#N 完成` again without files asks
    nobody. The review rule's reminder (at most one per round) is a reminder too."""
    at = now or app.clock.now()
    sent_request = None if new_round else _sent_request(session, request)
    if reminder or sent_request is not None:
        return _remind_round(
            session,
            app,
            item,
            request,
            origin,
            sent_request,
            reminder=reminder,
            rule_id=rule_id,
            at=at,
        )
    if not new_round:
        _withdraw_waiting(session, f"acceptance-request:{request.id}:")
    # Never limited by mail.answers_per_hour: that limit is for answers to the writer's own
    # flood, and one owner's 25 `#N 完成` used up the receiver's hour, so other owners'
    # finished items were "requested" in the ledger but never asked. A round asks once
    # (and files added later come in one reminder), so a flood cannot multiply requests.
    queued = queue_mail(
        session,
        app,
        now=at,
        kind=REQUEST_KIND,
        dedupe_key=f"acceptance-request:{request.id}:{len(request.deliverables)}",
        to=request.receiver,
        context=_context(item, request, reminder=False),
        collaboration_id=item.collaboration_id,
        item_id=item.id,
        attachments=_attachments(app, request.deliverables),
    )
    if queued:
        record_on(
            session,
            origin,
            at,
            item,
            action="acceptance_requested",
            new=request.receiver.email,
            note=f"round {request.round}, {len(request.deliverables)} file(s)",
        )
    return queued


def _remind_round(
    session: Session,
    app: App,
    item: ActionItem,
    request: AcceptanceRequest,
    origin: Origin,
    sent_request: OutboxMessage | None,
    *,
    reminder: bool,
    rule_id: str | None,
    at: datetime,
) -> bool:
    """A reminder about a round whose request has gone: the review rule's (`reminder`), or
    the files added since, after the quiet period. Threaded under the request and answered
    with its token: replying to either acts on the same round."""
    sent_request = sent_request or _sent_request(session, request)
    files = []
    if reminder:
        key, added, not_before = f"acceptance-reminder:{request.id}", [], None
        if sent_request is None:  # the request never went (held by the hourly limit)
            files = list(request.deliverables)
    else:
        shown = _files_shown(session, request)
        added = list(request.deliverables[shown:])
        if not added:
            return False  # nothing new to show: the receiver has been asked already
        _withdraw_waiting(session, f"acceptance-reminder:{request.id}:files:")
        key = f"acceptance-reminder:{request.id}:files:{len(request.deliverables)}"
        not_before = at + app.settings.archive.acceptance_quiet.as_timedelta()
    thread = sent_request.message_id if sent_request is not None else None
    return queue_mail(
        session,
        app,
        now=at,
        not_before=not_before,
        kind=REQUEST_KIND,
        dedupe_key=key,
        to=request.receiver,
        context={**_context(item, request, reminder=True, added=added), "files_here": files},
        collaboration_id=item.collaboration_id,
        item_id=item.id,
        rule_id=rule_id,
        rule_level=1 if reminder else None,
        attachments=_attachments(app, added or files),
        answers_thread=thread,
    )


def _context(item: ActionItem, request: AcceptanceRequest, *, reminder: bool, added=()) -> dict:
    return {
        "collab": item.collaboration,
        "item": item,
        "request": request,
        "deliverables": request.deliverables,
        "added": list(added),
        "reminder": reminder,
        "files_here": [],  # a reminder that carries the round's files itself
    }


def _attachments(app: App, deliverables) -> list[Attachment]:
    return [
        Attachment(d.filename, (app.settings.data_dir / d.path).read_bytes(), d.content_type)
        for d in deliverables
    ]


def _round_mails(request: AcceptanceRequest):
    return (
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == REQUEST_KIND,
            OutboxMessage.item_id == request.item_id,
            OutboxMessage.status != OutboxStatus.CANCELLED,
        )
        .order_by(OutboxMessage.id)
    )


def _sent_request(session: Session, request: AcceptanceRequest) -> OutboxMessage | None:
    """This round's request mail once it is past withdrawing (sent, being sent, or tried)."""
    for mail in session.scalars(
        _round_mails(request).where(
            OutboxMessage.dedupe_key.startswith(f"acceptance-request:{request.id}:")
        )
    ):
        if not _waiting(mail):
            return mail
    return None


def _files_shown(session: Session, request: AcceptanceRequest) -> int:
    """How many of the round's files the receiver has had (or is being sent): the count
    each request or files reminder records at the end of its dedupe key."""
    shown = 0
    prefixes = (f"acceptance-request:{request.id}:", f"acceptance-reminder:{request.id}:files:")
    for mail in session.scalars(_round_mails(request)):
        if mail.dedupe_key.startswith(prefixes) and not _waiting(mail):
            shown = max(shown, int(mail.dedupe_key.rpartition(":")[2]))
    return shown


def _waiting(mail: OutboxMessage) -> bool:
    return mail.status is OutboxStatus.PENDING and mail.claimed_by is None and mail.attempts == 0


def _withdraw_waiting(session: Session, prefix: str) -> None:
    """Cancel this round's mails under `prefix` still waiting (queued, never tried): the
    one queued next carries their files too. One already being sent is left alone."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == REQUEST_KIND,
            OutboxMessage.dedupe_key.startswith(prefix),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.claimed_by.is_(None),
            OutboxMessage.attempts == 0,
        )
        .values(status=OutboxStatus.CANCELLED, last_error="superseded by a later file")
    )


def remind(
    session: Session, app: App, request: AcceptanceRequest, rule_id: str, now: datetime
) -> bool:
    """Ask the receiver again, once per round (the review reminder), as of the tick's `now`."""
    return _ask_receiver(
        session,
        app,
        request.item,
        request,
        Origin.rule(rule_id, 1),
        reminder=True,
        rule_id=rule_id,
        now=now,
    )


def may_decide(person: Person, request: AcceptanceRequest) -> bool:
    """The item's receiver decides, and nobody for them (ledger/permissions.py)."""
    return person.id == request.receiver_id


def decide(
    session: Session,
    app: App,
    request: AcceptanceRequest,
    verdict: Verdict,
    note: str,
    origin: Origin,
) -> None:
    """Record the verdict. Rejected: the item goes back to in_progress with the reason, and
    the owner is told. Accepted: recorded, and the owner is told too."""
    item = request.item
    now = app.clock.now()
    request.verdict = verdict
    request.decided_at = now
    request.decided_by_id = origin.person.id if origin.person else None
    request.decision_source = origin.source
    request.note = note or ""
    record_on(
        session,
        origin,
        now,
        item,
        action=f"acceptance_{verdict.value}",
        new=verdict.value,
        note=f"round {request.round}" + (f": {note}" if note else ""),
    )
    _follow_verdict(session, app, item, verdict, note, origin)
    queue_mail(
        session,
        app,
        now=now,
        kind=RESULT_KIND,
        dedupe_key=f"acceptance-result:{request.id}",
        to=item.owner,
        context={"collab": item.collaboration, "item": item, "request": request},
        collaboration_id=item.collaboration_id,
        item_id=item.id,
    )
    session.flush()


def _follow_verdict(
    session: Session, app: App, item: ActionItem, verdict: Verdict, note: str, origin: Origin
) -> None:
    """The item's state follows the verdict, so the ledger never shows an accepted item as
    进行中 10% or a rejected one as 进行中 100%.

    Rejected: a done item goes back to work (进行中, below 100%: ledger/items.py); one its owner has
    meanwhile set to 阻塞 / 需支持 / 进行中 keeps that status, with the reason as its note.
    Accepted: the delivered result is what counts; the item is done (已完成, 100%)."""
    if verdict is Verdict.ACCEPTED:
        if item.status is not ItemStatus.DONE:
            update_item(session, app, item, ItemChange(status=ItemStatus.DONE), origin)
        return
    why = f"验收不通过：{note}" if note else "验收不通过"
    reopened = ItemStatus.IN_PROGRESS if item.status is ItemStatus.DONE else None
    update_item(session, app, item, ItemChange(status=reopened, note=why), origin)


def all_accepted(session: Session, collaboration_id: int) -> bool:
    """Every item done, and its latest acceptance round accepted."""
    items = list(
        session.scalars(select(ActionItem).where(ActionItem.collaboration_id == collaboration_id))
    )
    if not items:
        return False
    for item in items:
        latest = latest_request(session, item)
        if item.status is not ItemStatus.DONE or latest is None:
            return False
        if latest.verdict is not Verdict.ACCEPTED:
            return False
    return True
