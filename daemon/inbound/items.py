"""The default reading of a reply: `#N status …` lines change items.

Handlers of other mail kinds (acceptance, minutes, retrospective) fall back to this when a
reply carries item commands instead of their own words.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..closing.acceptance import latest_request
from ..closing.replies import CHANGING, after_commands
from ..ledger.history import Origin, record_on
from ..ledger.items import (
    ArchivedCollaboration,
    CancelledItem,
    DoneItem,
    ItemChange,
    update_item,
)
from ..ledger.permissions import Action, holders, may
from ..ledger.superseded import newer_changes, record_superseded
from ..mail.answer import CommandResult, notify_or_hold
from ..mail.envelope import Decision, Envelope, ReplyContext
from ..mail.reply import ParsedReply
from ..mail.tokens import TokenClaims
from ..rules.current import calendar_in
from ..rules.deadline_check import item_deadline_warnings
from ..rules.delay import delay_approver, new_deadline, request_delay
from ..store.models import (
    CLOSED_STATUSES,
    ActionItem,
    Collaboration,
    CollabStatus,
    InboundStatus,
    ItemStatus,
    OutboxMessage,
    Person,
    Verdict,
)
from .edits import EDITED, apply_edit_commands

if TYPE_CHECKING:
    from ..app import App


def apply_item_commands(ctx: ReplyContext) -> Decision:
    """The default reading of a reply: `#N status …` lines change items."""
    outcomes = _apply_commands(
        ctx.session,
        ctx.app,
        ctx.envelope,
        ctx.parsed,
        ctx.person,
        ctx.claims,
        ctx.collab,
        ctx.answered,
    )
    # The coordinator's commands (转交, 截止, 取消, 依赖, 新增): daemon/inbound/edits.py.
    if ctx.parsed.edits:
        outcomes += apply_edit_commands(ctx, lambda n: _item(ctx.session, ctx.collab, n))
    # Closing the loop (daemon/closing): files sent with `#N 完成` become deliverables and go
    # to acceptance; `验收 #N 通过/不通过` verdicts are recorded.
    outcomes += after_commands(ctx, outcomes)
    if not outcomes:
        outcomes = _on_track(ctx)
    if not outcomes and ctx.parsed.ack and ctx.person is not None:
        return _acknowledged(ctx)
    changed = any(
        o.kind in ("applied", "delay_requested", "delay_applied", "on_track", *CHANGING, *EDITED)
        for o in outcomes
    )
    if not outcomes:
        outcomes = [CommandResult("nothing_found")]
    if ctx.person is None:
        # Someone outside the ledger wrote from a collabd thread (a forward, a forged From):
        # nothing changes, and the person the token belongs to is told, not the stranger.
        outcomes = [CommandResult("not_permitted")]
        changed = False
    ctx.answer(outcomes)
    summary = "; ".join(_describe(o) for o in outcomes)
    return (InboundStatus.APPLIED if changed else InboundStatus.IGNORED), summary


def _on_track(ctx: ReplyContext) -> list[CommandResult]:
    """ "可以按期完成" / "on track" / "没问题" to a mail about one item (the risk check asks
    能否按期完成？): the owner's answer goes into the item's history, nothing else changes."""
    answered = ctx.answered
    if not ctx.parsed.on_track or answered is None or not answered.item_id:
        return []
    item = ctx.session.get(ActionItem, answered.item_id)
    if item is None or item.collaboration_id != (ctx.collab.id if ctx.collab else None):
        return []
    if not may(Action.UPDATE_ITEM, ctx.person, item, ctx.app.settings.permissions):
        who = _who_may_change(ctx.session, ctx.app, item)
        return [CommandResult("not_permitted", item=item.number, word=who)]
    if item.collaboration.status is CollabStatus.ARCHIVED:
        return [CommandResult("archived", item=item.number, ref=item)]
    today = ctx.app.clock.now().astimezone(ctx.app.settings.tz).date()
    if item.deadline is not None and item.deadline < today and item.status not in CLOSED_STATUSES:
        # "可以按期完成" once the deadline has passed cannot be true: nothing is recorded,
        # and the owner is asked for what still helps (完成, or 延期至 a new day).
        later = calendar_in(ctx.session, ctx.app).add_working_days(today, 5)
        return [CommandResult("on_track_overdue", item=item.number, due=later, ref=item)]
    note = (ctx.parsed.on_track_note or "")[:MAX_NOTE_CHARS]
    origin = Origin.mail(ctx.envelope.message_id, ctx.person, ctx.envelope.written_at)
    record_on(ctx.session, origin, ctx.app.clock.now(), item, action="on_track", note=note)
    return [CommandResult("on_track", item=item.number, word=note, ref=item)]


def _acknowledged(ctx: ReplyContext) -> Decision:
    """Thanks, 收到, 好的: nothing to do and nothing to answer (an answer to a thank-you is
    how two robots talk forever). Kept in the history of what the mail was about."""
    answered = ctx.answered
    subject = None
    if answered is not None and answered.item_id:
        subject = ctx.session.get(ActionItem, answered.item_id)
    subject = subject or ctx.collab
    first = next((line.strip() for line in ctx.parsed.new_text.splitlines() if line.strip()), "")
    if subject is not None:
        origin = Origin.mail(ctx.envelope.message_id, ctx.person, ctx.envelope.written_at)
        record_on(
            ctx.session,
            origin,
            ctx.app.clock.now(),
            subject,
            action="acknowledged",
            note=first[:200],
        )
    return InboundStatus.IGNORED, f"nothing to do ({first[:40]!r}): recorded, not answered"


MAX_NOTE_CHARS = 2_000  # a note is a line or two; a longer one is refused, and told so


def _who_may_change(session: Session, app: App, item: ActionItem) -> str:
    """The people who may change the item, by name, for the refusal ("张伟、陈静")."""
    ids = holders(Action.UPDATE_ITEM, item, app.settings.permissions)
    names = [person.name for pid in ids if (person := session.get(Person, pid)) is not None]
    return "、".join(names)


def _tell_owner(
    session: Session,
    app: App,
    item: ActionItem,
    person: Person,
    changes: list[tuple[str, object, object]],
    message_id: str,
) -> None:
    """Someone other than the owner changed the item: the owner hears who, what, and from
    which mail, in their own language (rate-limited like every notice caused by mail)."""
    owner = item.owner
    if owner.id == person.id:
        return
    # Over the owner's hourly limit the notice is held for one digest, never dropped.
    notify_or_hold(
        session,
        app,
        message_id,
        kind="item_changed",
        dedupe_key=f"item-changed:{item.id}:{message_id}",
        to=owner,
        context={
            "collab": item.collaboration,
            "item": item,
            "by": person,
            "changes": [(name, old, new) for name, old, new in changes],
            "source": message_id,
        },
        collaboration_id=item.collaboration_id,
        item_id=item.id,
    )


def _item(session: Session, collab: Collaboration | None, number: int) -> ActionItem | None:
    if collab is None:
        return None
    # Without autoflush: replies never create items, and the item a previous command of this
    # mail changed comes from the identity map as changed.
    with session.no_autoflush:
        return session.scalar(_ITEM_BY_NUMBER, {"collab": collab.id, "number": number})


_ITEM_BY_NUMBER = select(ActionItem).where(
    ActionItem.collaboration_id == bindparam("collab"), ActionItem.number == bindparam("number")
)


def _apply_commands(
    session: Session,
    app: App,
    envelope: Envelope,
    parsed: ParsedReply,
    person: Person | None,
    claims: TokenClaims,
    collab: Collaboration | None,
    answered: OutboxMessage | None,
) -> list[CommandResult]:
    outcomes: list[CommandResult] = []
    origin = Origin.mail(envelope.message_id, person, envelope.written_at) if person else None
    for command in parsed.commands:
        number = command.item
        if number is None:
            single = (
                session.get(ActionItem, answered.item_id) if answered and answered.item_id else None
            )
            if single is None:
                outcomes.append(CommandResult("need_number", status=ItemStatus(command.status)))
                continue
            number = single.number
        item = _item(session, collab, number)
        if item is None:
            outcomes.append(CommandResult("no_such_item", item=number))
            continue
        if not may(Action.UPDATE_ITEM, person, item, app.settings.permissions):
            who = _who_may_change(session, app, item)
            outcomes.append(CommandResult("not_permitted", item=number, word=who))
            continue
        if command.note and len(command.note) > MAX_NOTE_CHARS:
            outcomes.append(CommandResult("note_too_long", item=number, due=MAX_NOTE_CHARS))
            continue
        status = ItemStatus(command.status)
        if _reopens_from_old_mail(item, status, command.note, answered):
            outcomes.append(_done_already(session, app, item))
            continue
        note = command.note
        due = command.due
        if status is ItemStatus.DELAYED:
            # Nothing is 延期 without a date: "下周" / "月底" / "延期一周" resolve on the
            # working-day calendar, anything else is answered with a question.
            asked = new_deadline(
                calendar_in(session, app),
                item,
                due,
                end_of=command.end_of,
                shift=command.shift,
                today=app.clock.now().astimezone(app.settings.tz).date(),
            )
            if asked.due is None:
                outcomes.append(
                    CommandResult(
                        asked.problem,
                        item=number,
                        due=asked.wanted or due,
                        then=asked.suggest,
                        ref=item,
                    )
                )
                continue
            due = asked.due
            # The deadline itself changes only when the initiator approves (rules issue).
            note = f"申请延期至 {due.isoformat()}" + (f"：{note}" if note else "")
        change = ItemChange(
            status=status,
            progress=command.progress,
            note=note,
            support_needed=note if status is ItemStatus.NEEDS_SUPPORT else None,
        )
        assert origin is not None  # may(): a known person
        change, late = _without_newer_changes(session, app, item, change, origin)
        if late is not None:
            outcomes.append(late)
            if change is None:
                continue
        try:
            changes = update_item(session, app, item, change, origin)
        except ArchivedCollaboration:  # update_item refuses it; say so instead
            outcomes.append(CommandResult("archived", item=number, ref=item))
            continue
        except CancelledItem:
            outcomes.append(CommandResult("item_is_cancelled", item=number, ref=item))
            continue
        except DoneItem:  # nothing left to delay: said, and nothing is asked of the initiator
            outcomes.append(CommandResult("delay_on_done", item=number, ref=item))
            continue
        if changes:
            _tell_owner(session, app, item, person, changes, envelope.message_id)
        kind = (
            "delay_requested"
            if change.status is ItemStatus.DELAYED and due
            else "applied"
            if changes
            else "unchanged"
        )
        asked_of, role = "", ""
        if kind == "delay_requested":  # rules issue: the initiator approves the new date
            request = request_delay(
                session, app, item, person, due, command.note or "", envelope.message_id
            )
            if request.status == "approved":  # the initiator's own: nobody else to ask
                kind = "delay_applied"
            else:  # the answer names who was asked: the initiator, or the coordinator
                approver = delay_approver(app, item.collaboration, person)
                if approver is not None:
                    asked_of = approver.name
                    role = "coordinator" if approver.id != item.collaboration.initiator_id else ""
                    role = role or "initiator"
        # The answer says what was stored beside the status, so a note nobody meant is seen.
        noted = next((new for name, _, new in changes if name == "note"), "")
        outcomes.append(
            CommandResult(
                kind,
                item=number,
                status=item.status,
                progress=item.progress,
                due=due,
                ref=item,
                # what was stored beside the status; for a delay, who approves it …
                word=noted if kind == "applied" else asked_of,
                reason=role,  # … and as what: "initiator" / "coordinator"
            )
        )
        if kind in ("delay_requested", "delay_applied"):  # a date a colleague would question
            outcomes += [
                CommandResult(
                    "deadline_warning",
                    item=number,
                    word=warning.say(str(person.locale)),
                    due=warning.offer if warning.offer != due else None,
                )
                for warning in item_deadline_warnings(session, app, item, due)
            ]
    outcomes += [
        CommandResult(
            "unknown_word" if e.item is not None else "unreadable", item=e.item, word=e.word
        )
        for e in parsed.errors
    ]
    return outcomes


def _reopens_from_old_mail(
    item: ActionItem, status: ItemStatus, note: str | None, answered: OutboxMessage | None
) -> bool:
    """A finished item moved back to work, without a word of why, by a reply to a mail
    written before it was done: that mail's example line ("#3 进行中 备注" sent back as it
    stands) is not a decision to reopen it. A reopening that says why ("#1 阻塞：等待研发确认")
    is the owner's own decision, whichever mail it answers; a reply to a mail sent after the
    item was done (the answer saying so, for one) reopens it too."""
    if item.status is not ItemStatus.DONE or status in (ItemStatus.DONE, ItemStatus.DELAYED):
        return False  # a delay of a done item is answered by update_item (DoneItem)
    if note:
        return False
    return answered is not None and answered.created_at < item.status_since


def _done_already(session: Session, app: App, item: ActionItem) -> CommandResult:
    """The refusal: when it was done, who is to accept it, and how to reopen it."""
    latest = latest_request(session, item)
    pending = latest is not None and latest.verdict is Verdict.PENDING
    waiting = latest.receiver if pending else None
    return CommandResult(
        "done_already_reopen",
        item=item.number,
        due=item.status_since.astimezone(app.settings.tz).date(),
        word=waiting.name if waiting is not None else "",
        reason="accepted" if latest is not None and latest.verdict is Verdict.ACCEPTED else "",
        ref=item,
    )


def _without_newer_changes(
    session: Session, app: App, item: ActionItem, change: ItemChange, origin: Origin
) -> tuple[ItemChange | None, CommandResult | None]:
    """The change minus the fields a mail written after this one already changed (those
    are recorded as superseded, and the answer says so); None when nothing is left."""
    asked = {name: value for name, value in vars(change).items() if value is not None}
    newer = newer_changes(session, item, list(asked), origin.written_at)
    if not newer:
        return change, None
    record_superseded(session, origin, app.clock.now(), item, asked, newer)
    zone = app.settings.tz
    late = CommandResult(
        "superseded",
        item=item.number,
        word=f"{origin.written_at.astimezone(zone):%Y-%m-%d %H:%M}",
        due=f"{max(newer.values()).astimezone(zone):%Y-%m-%d %H:%M}",
        ref=item,
    )
    left = replace(change, **{name: None for name in newer})
    return (left if any(v is not None for v in vars(left).values()) else None), late


def _describe(outcome: CommandResult) -> str:
    number = f"#{outcome.item}" if outcome.item is not None else "(no number)"
    if outcome.kind in ("applied", "unchanged", "delay_requested", "delay_applied"):
        return f"{number} {outcome.kind}: {outcome.status.value if outcome.status else ''}"
    if outcome.kind == "unknown_word":
        return f"{number} unknown status word {outcome.word!r}"
    return f"{number} {outcome.kind}"
