"""Replies to the minutes mails (rows in daemon/inbound/routes.py `REPLY_HANDLERS`):

* to a minutes request, a problems list or an objection: the recorder's (or host's) filled
  form → read, and published if all of it reads, else sent back line by line;
* to the published minutes: an attendee's 确认 / 有异议：… (the reply reader's
  `parsed.minutes`); item commands (`#3 完成`) in that thread still work.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..ledger.permissions import Action, may
from ..mail.answer import CommandResult, answer_subject
from ..mail.envelope import ReplyContext
from ..mail.headers import header_values
from ..mail.outbox import enqueue
from ..rules.deadline_check import item_deadline_warnings
from ..store.models import CollabStatus, InboundStatus, Meeting, Minutes, Person
from .authority import may_create_from_minutes
from .confirm import record_verdict
from .publish import publish_minutes
from .read import meeting_day
from .resolve import MinutesProblems, ResolvedMinutes, resolve
from .sheet import read_text, reply_text

Decision = tuple[InboundStatus, str]


def minutes_from_reply(ctx: ReplyContext) -> Decision:
    meeting = _meeting(ctx)
    if meeting is None:
        return ctx.read_as_item_commands()
    if _archived(ctx, meeting):
        return (
            InboundStatus.IGNORED,
            f"meeting {meeting.id}: collaboration archived, nothing changed",
        )
    person = ctx.person
    text = reply_text(ctx.envelope.message)
    sheet = read_text(text)
    if not sheet.sections:  # not minutes: a question, or item commands
        if ctx.parsed.commands or ctx.parsed.ack:  # (收到 / 谢谢: recorded, not answered)
            return ctx.read_as_item_commands()
        if person is not None:
            _answer(ctx, person, meeting, "no_minutes")
        return InboundStatus.IGNORED, f"meeting {meeting.id}: no minutes form in the reply"
    if not may(Action.PUBLISH_MINUTES, person, meeting, ctx.app.settings.permissions):
        if person is not None:
            _answer(ctx, person, meeting, "not_permitted")
        who = person.email if person else ctx.envelope.sender
        return InboundStatus.IGNORED, f"meeting {meeting.id}: {who} may not send its minutes"
    try:
        resolved = resolve(ctx.session, sheet, meeting.collaboration, meeting_day(meeting))
    except MinutesProblems as exc:
        _send_problems(ctx, person, meeting, exc)
        return (
            InboundStatus.IGNORED,
            f"meeting {meeting.id}: minutes not published, {len(exc.problems)} problem(s) "
            "sent back to the sender",
        )
    if _creates(resolved) and not may_create_from_minutes(ctx.app, meeting, person):
        coordinator = meeting.collaboration.coordinator
        _answer(ctx, person, meeting, "not_coordinated", coordinator=coordinator)
        return (
            InboundStatus.IGNORED,
            f"meeting {meeting.id}: organised by {meeting.organizer_email}, not by collabd, the "
            f"coordinator or the initiator: its minutes may not add items or schedule a "
            f"meeting ({len(resolved.rows)} item row(s)); nothing published",
        )
    published = publish_minutes(
        ctx.session, ctx.app, meeting, resolved, raw_text=text, origin=ctx.origin
    )
    numbers = _numbers(published.created)
    _answer(
        ctx,
        person,
        meeting,
        "published",
        minutes=published.minutes,
        numbers=numbers,
        asked=len(published.asked),
        warnings=_deadline_warnings(ctx, person, [*published.created, *published.changed]),
        next=published.follow_up,
    )
    return (
        InboundStatus.APPLIED,
        f"meeting {meeting.id}: minutes v{published.minutes.version} published; "
        f"new items {numbers or 'none'}; {len(published.asked)} asked to confirm",
    )


def _creates(resolved: ResolvedMinutes) -> bool:
    """The minutes would add or change items, or schedule the next meeting (a date)."""
    return bool(resolved.rows) or any(char.isdigit() for char in resolved.next_meeting)


def verdict_on_minutes(ctx: ReplyContext) -> Decision:
    minutes = (
        ctx.session.get(Minutes, ctx.answered.minutes_id)
        if ctx.answered is not None and ctx.answered.minutes_id
        else None
    )
    if minutes is None:
        return ctx.read_as_item_commands()
    meeting = minutes.meeting
    if _archived(ctx, meeting):
        return (
            InboundStatus.IGNORED,
            f"minutes {minutes.id}: collaboration archived, nothing changed",
        )
    verdict = ctx.parsed.minutes
    if verdict is None:
        if ctx.parsed.commands or ctx.parsed.ack:  # (收到 / 谢谢: recorded, not answered)
            return ctx.read_as_item_commands()
        may_correct = may(Action.PUBLISH_MINUTES, ctx.person, meeting, ctx.app.settings.permissions)
        if may_correct and read_text(reply_text(ctx.envelope.message)).sections:
            return minutes_from_reply(ctx)  # the recorder replied with a correction
        if ctx.person is not None:
            _answer(ctx, ctx.person, meeting, "unreadable", minutes=minutes)
        return InboundStatus.IGNORED, f"minutes {minutes.id}: no 确认 / 有异议 in the reply"
    if ctx.person is None:
        return InboundStatus.IGNORED, "verdict from someone outside the ledger: not recorded"
    outcome, current = record_verdict(
        ctx.session, ctx.app, minutes, ctx.person, verdict.verdict, verdict.note, ctx.origin
    )
    _answer(ctx, ctx.person, meeting, outcome, minutes=current, note=verdict.note or "")
    return (
        InboundStatus.APPLIED if outcome != "not_asked" else InboundStatus.IGNORED,
        f"minutes v{current.version} of meeting {meeting.id}: {ctx.person.email} {outcome}",
    )


def _archived(ctx: ReplyContext, meeting: Meeting) -> bool:
    """Minutes of an archived collaboration no longer change: the sender is told so, once
    for this mail, instead of a publish or a confirmation that the archive would not show."""
    collab = meeting.collaboration
    if collab is None or collab.status is CollabStatus.ACTIVE:
        return False
    if ctx.person is not None:
        ctx.answer([CommandResult("collab_archived")])
    return True


def reply_to_answer(ctx: ReplyContext) -> Decision:
    """A reply to collabd's short answer: a verdict if it holds one, else a (corrected) form."""
    if ctx.parsed.minutes is not None:
        return verdict_on_minutes(ctx)
    return minutes_from_reply(ctx)


def _deadline_warnings(ctx: ReplyContext, person: Person, items: list) -> list[str]:
    """A deadline in the past, on a day off or outside the collaboration, per item: the
    recorder hears it in the answer (the minutes stand; a corrected form fixes it)."""
    locale = str(person.locale)
    return [
        f"#{item.number} {warning.say(locale)}"
        for item in items
        for warning in item_deadline_warnings(ctx.session, ctx.app, item)
    ]


def _meeting(ctx: ReplyContext) -> Meeting | None:
    answered = ctx.answered
    if answered is None or not answered.meeting_id:
        return None
    return ctx.session.get(Meeting, answered.meeting_id)


def _numbers(items) -> str:
    return "、".join(f"#{item.number}" for item in items)


def _thread(ctx: ReplyContext) -> tuple[str, dict[str, str]]:
    envelope = ctx.envelope
    earlier = " ".join(header_values(envelope.message, "References")).split()
    references = " ".join([*earlier, envelope.message_id])
    # collabd's own subject, never the incoming one: a reply titled `请点击 http://evil… 领奖`
    # was answered under that subject from collabd's address (outside attack F6).
    answered = ctx.answered.subject if ctx.answered is not None else ""
    locale = str(ctx.person.locale) if ctx.person is not None else "zh-CN"
    subject = answer_subject(answered or "collabd 处理结果", locale)
    return subject, {"In-Reply-To": envelope.message_id, "References": references[-900:]}


def _answer(
    ctx: ReplyContext, person: Person, meeting: Meeting, outcome: str, **context: object
) -> None:
    subject, headers = _thread(ctx)
    context.setdefault("minutes", None)
    context.setdefault("numbers", "")
    context.setdefault("asked", 0)
    context.setdefault("note", "")
    context.setdefault("warnings", [])
    context.setdefault("next", None)  # the next meeting the minutes named (published only)
    _enqueue(
        ctx.session,
        ctx,
        person,
        meeting,
        "minutes_answer",
        subject,
        headers,
        outcome=outcome,
        **context,
    )


def _send_problems(
    ctx: ReplyContext, person: Person, meeting: Meeting, problems: MinutesProblems
) -> None:
    subject, headers = _thread(ctx)
    _enqueue(
        ctx.session,
        ctx,
        person,
        meeting,
        "minutes_problems",
        subject,
        headers,
        problems=problems.problems,
    )


def _enqueue(
    session: Session,
    ctx: ReplyContext,
    person: Person,
    meeting: Meeting,
    kind: str,
    subject: str,
    headers: dict[str, str],
    **context: object,
) -> None:
    minutes = context.get("minutes")
    enqueue(
        session,
        renderer=ctx.app.renderer,
        identity=ctx.app.identity,
        now=ctx.app.clock.now(),
        kind=kind,
        dedupe_key=f"{kind}:{ctx.envelope.message_id}",
        to=person,
        context={"meeting": meeting, "original_subject": subject, **context},
        collaboration_id=meeting.collaboration_id,
        meeting_id=meeting.id,
        minutes_id=minutes.id if isinstance(minutes, Minutes) else None,
        headers=headers,
    )
