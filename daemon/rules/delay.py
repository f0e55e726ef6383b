"""Delay approval: an owner's `#3 延期至12月5日，原因：…` asks for a new deadline; the
initiator approves (`同意` / `批准` / `approve`) or rejects (`驳回：原因` / `reject: reason`)
by replying to the approval mail, and both hear the outcome. The deadline changes only on
approval; either way the item leaves 延期 (delayed) and goes back to 进行中, so the rules
chase it again against whichever deadline now stands."""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..ledger.history import Origin
from ..ledger.items import ArchivedCollaboration, ItemChange, update_item
from ..ledger.permissions import Action, may
from ..mail.outbox import queue_mail
from ..store.models import (
    ActionItem,
    DelayRequest,
    InboundStatus,
    ItemStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from .deadline_check import item_deadline_warnings

if TYPE_CHECKING:
    from ..app import App
    from ..mail.envelope import ReplyContext
    from .workdays import WorkCalendar

KIND = "delay_approval"
RULE_ID = "delay.approval"
_APPROVE = re.compile(
    r"^\s*(同意|批准|准予|可以|没问题|沒問題|确认|確認|好的|行|approved?|ok(?:ay)?|yes|confirm(?:ed)?)\b",
    re.I,
)
_REJECT = re.compile(
    r"^\s*(驳回|拒绝|不同意|不批准|reject(?:ed)?|decline[ds]?|no)\s*[:：,，\-]?\s*(?P<why>.*)$",
    re.I,
)


@dataclass(frozen=True)
class NewDeadline:
    """What an owner's 延期 asks for, on the working-day calendar: the date, or why there is
    none (`problem`, an answer kind) and the date to suggest instead (`suggest`)."""

    due: date | None
    problem: str = ""
    suggest: date | None = None
    wanted: date | None = None  # the day the owner's words resolved to, when refused


def new_deadline(
    calendar: WorkCalendar,
    item: ActionItem,
    due: date | None,
    *,
    end_of: bool = False,
    shift: tuple[int, str] | None = None,
    today: date,
) -> NewDeadline:
    """Resolve `延期至下周` / `月底` / `延期一周` to a working day, or say what is wrong.

    A period ("下周", "月底") means its last working day; a move ("延期一周") lands on the
    next working day; a named day that is not a working day is not moved behind the
    owner's back: it is asked for, and the answer's deadline warning (rules/deadline_check)
    offers the next working day."""
    base = item.deadline or today
    if due is None and shift is not None:
        n, unit = shift
        if unit == "workdays":
            due = calendar.add_working_days(base, n)
        elif unit == "months":
            month = base.month - 1 + n
            year, month = base.year + month // 12, month % 12 + 1
            due = date(year, month, min(base.day, monthrange(year, month)[1]))
        else:
            due = base + timedelta(days=n * (7 if unit == "weeks" else 1))
        due = calendar.add_working_days(due, 0)
    if due is None:
        return NewDeadline(None, "delay_needs_date", calendar.add_working_days(base, 5))
    if end_of and due <= base and due.day == monthrange(due.year, due.month)[1]:
        # "月底" written in November about an item due in December: that month's end.
        due = date(base.year, base.month, monthrange(base.year, base.month)[1])
    if end_of:
        for _ in range(31):  # the period's last working day (a holiday week has none left)
            if calendar.is_working_day(due) or due <= today:
                break
            due -= timedelta(days=1)
    if due == item.deadline:
        return NewDeadline(None, "delay_same_date")
    if item.deadline is not None and due < item.deadline:
        # "延期至" a day before the deadline is no delay: a slip of the date, or a wish to
        # finish sooner, which needs nobody's approval. Asked back, nothing changes.
        return NewDeadline(None, "delay_earlier", calendar.add_working_days(base, 5), due)
    return NewDeadline(due)


def request_delay(
    session: Session,
    app: App,
    item: ActionItem,
    owner: Person,
    new_deadline,
    reason: str,
    message_id: str,
) -> DelayRequest:
    """Record the request and ask the initiator, in the same transaction as the reply."""
    now = app.clock.now()
    session.execute(  # a newer request replaces one still waiting
        update(DelayRequest)
        .where(DelayRequest.item_id == item.id, DelayRequest.status == "pending")
        .values(status="superseded", decided_at=now)
    )
    request = DelayRequest(
        item_id=item.id,
        requested_by_id=owner.id,
        old_deadline=item.deadline,
        new_deadline=new_deadline,
        reason=reason,
        status="pending",
        source=message_id,
        requested_at=now,
        decision_note="",
    )
    session.add(request)
    session.flush()
    collab = item.collaboration
    approver = delay_approver(app, collab, owner)
    if approver is None:
        _decide_own(session, app, item, request, owner, message_id)
        return request
    queue_mail(
        session,
        app,
        now=now,
        not_before=_one_mail_an_hour(session, item, now),
        kind=KIND,
        dedupe_key=f"{RULE_ID}:r{request.id}",
        to=approver,
        context={
            "collab": collab,
            "item": item,
            "request": request,
            "owner": owner,
            # the approver sees what the owner was warned of (a day off, after the end):
            # one 同意 sets the date
            "warnings": [
                warning.say(str(approver.locale))
                for warning in item_deadline_warnings(session, app, item, request.new_deadline)
            ],
        },
        collaboration_id=collab.id,
        item_id=item.id,
        rule_id=RULE_ID,
        rule_level=0,
    )
    return request


def delay_approver(app: App, collab, requester: Person) -> Person | None:
    """Who is asked to approve: never the person who asks. The initiator, as a rule; for
    the initiator's own request the coordinator when coordinators approve delays
    (permissions.coordinator_approves_delays), else nobody: the initiator decides the
    collaboration's deadlines (a `#N 截止` of theirs needs no one's word either), so their
    own new date stands at once, recorded, and the coordinator is told."""
    if collab.initiator_id != requester.id:
        return collab.initiator
    if app.settings.permissions.coordinator_approves_delays and (
        collab.coordinator_id != requester.id
    ):
        return collab.coordinator
    return None


def _decide_own(
    session: Session,
    app: App,
    item: ActionItem,
    request: DelayRequest,
    initiator: Person,
    message_id: str,
) -> None:
    """The initiator's own delay: approved by its author's authority, with the record
    saying so; the coordinator hears of it (nobody is asked to approve themselves)."""
    change = ItemChange(
        status=ItemStatus.IN_PROGRESS,
        deadline=request.new_deadline,
        note=f"延期至 {request.new_deadline}（发起人本人决定，无需审批）",
    )
    update_item(session, app, item, change, Origin.mail(message_id, initiator))
    request.status, request.decided_by_id, request.decided_at = (
        "approved",
        initiator.id,
        app.clock.now(),
    )
    request.decision_note = ""
    session.flush()
    coordinator = item.collaboration.coordinator
    if coordinator is not None and coordinator.id != initiator.id:
        _tell(session, app, request, [coordinator])


def _one_mail_an_hour(session: Session, item: ActionItem, now: datetime) -> datetime | None:
    """When the approval mail about the newest request may go: one waiting mail per item
    (an older request's, not yet sent, is withdrawn) and at most one a hour (outside attack
    F12: 25 requests in a minute were 25 approval mails to the initiator, each with the
    owner's text). Every mail names its own request, so the initiator always decides the
    date the mail shows; a request made meanwhile waits for the hour and replaces the
    waiting one."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == KIND,
            OutboxMessage.item_id == item.id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.claimed_by.is_(None),
            OutboxMessage.attempts == 0,
        )
        .values(status=OutboxStatus.CANCELLED, last_error="superseded by a newer delay request")
    )
    last = session.scalar(
        select(func.max(OutboxMessage.sent_at)).where(
            OutboxMessage.kind == KIND,
            OutboxMessage.item_id == item.id,
            OutboxMessage.status == OutboxStatus.SENT,
        )
    )
    return (
        last + timedelta(hours=1) if last is not None and last > now - timedelta(hours=1) else None
    )


def verdict(text: str) -> tuple[str, str] | None:
    """('approved', '') or ('rejected', reason) from the first line that says either."""
    for line in text.splitlines():
        if not line.strip():
            continue
        if match := _REJECT.match(line):
            return "rejected", match["why"].strip()
        if _APPROVE.match(line):
            return "approved", ""
    return None


def answer_delay(ctx: ReplyContext) -> tuple[InboundStatus, str]:
    """REPLY_HANDLERS row for replies to a delay approval mail."""
    session, app = ctx.session, ctx.app
    item = session.get(ActionItem, ctx.answered.item_id) if ctx.answered else None
    request = _asked_request(session, ctx.answered, item) if item is not None else None
    if item is None or request is None:
        return InboundStatus.IGNORED, "delay approval: no delay request for this item"
    person = ctx.person
    if not may(Action.APPROVE_DELAY, person, item, app.settings.permissions):
        return InboundStatus.IGNORED, "delay approval: only the initiator decides (permissions)"
    if request.status == "superseded":
        # The owner asked again after this mail went out: deciding the old date would
        # silently decide a different one (the newest), so point to the mail that counts.
        _tell(session, app, request, [person], problem="superseded", newer=_newest(session, item))
        return InboundStatus.IGNORED, f"delay request {request.id} superseded by a newer one"
    if request.status != "pending":
        _tell(session, app, request, [person], problem="decided")
        return InboundStatus.IGNORED, f"delay request {request.id} already {request.status}"
    decided = verdict(ctx.parsed.new_text)
    if decided is None and ctx.parsed.ack:  # "收到" / "谢谢": recorded, not answered
        return ctx.read_as_item_commands()
    if decided is None:
        _tell(session, app, request, [person], problem="no verdict")
        return InboundStatus.IGNORED, "delay approval: no 同意/驳回 (approve/reject) found"
    status, why = decided
    now = app.clock.now()
    origin = Origin.mail(ctx.envelope.message_id, person)
    change = ItemChange(
        status=ItemStatus.IN_PROGRESS,
        deadline=request.new_deadline if status == "approved" else None,
        note=(
            f"延期至 {request.new_deadline} 已批准"
            if status == "approved"
            else f"延期申请被驳回：{why}"
            if why
            else "延期申请被驳回"
        ),
    )
    try:
        update_item(session, app, item, change, origin)
    except ArchivedCollaboration:
        return InboundStatus.IGNORED, "delay approval: the collaboration is archived"
    request.status, request.decided_by_id, request.decided_at = status, person.id, now
    request.decision_note = why
    _tell(session, app, request, [request.requested_by, person])
    return InboundStatus.APPLIED, f"delay request {request.id} {status}" + (
        f": {why}" if why else ""
    )


_REQUEST_KEY = re.compile(rf"^{re.escape(RULE_ID)}:r(?P<id>\d+)$")


def _asked_request(session: Session, answered, item: ActionItem) -> DelayRequest | None:
    """The request the answered approval mail asked about (its dedupe key names it);
    the item's newest request only for a mail that names none."""
    match = _REQUEST_KEY.match(answered.dedupe_key or "")
    if match:
        request = session.get(DelayRequest, int(match["id"]))
        if request is not None and request.item_id == item.id:
            return request
    return _newest(session, item)


def _newest(session: Session, item: ActionItem) -> DelayRequest | None:
    return session.scalar(
        select(DelayRequest)
        .where(DelayRequest.item_id == item.id)
        .order_by(DelayRequest.id.desc())
        .limit(1)
    )


def _tell(session, app, request: DelayRequest, people, problem: str = "", newer=None) -> None:
    item = request.item
    seen = set()
    for person in people:
        if person.id in seen:
            continue
        seen.add(person.id)
        queue_mail(
            session,
            app,
            kind="delay_decision",
            dedupe_key=f"delay.decision:r{request.id}:{request.status}:{problem}:p{person.id}",
            to=person,
            context={
                "collab": item.collaboration,
                "item": item,
                "request": request,
                "problem": problem,
                "newer": newer,
            },
            collaboration_id=item.collaboration_id,
            item_id=item.id,
            rule_id=RULE_ID,
            rule_level=1,
        )
