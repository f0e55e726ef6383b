"""What replies mean for closing the loop.

* `after_commands`: called by the default reply reading (inbound/items.py) once the `#N …`
  commands are applied: files sent with `#N 完成` become deliverables and go to acceptance;
  `验收 #N 通过 / 不通过：原因` verdicts are recorded.
* `REPLY_HANDLERS` rows (inbound/routes.py): a reply to an acceptance request may be just
  `通过` or `不通过：原因`; a reply to a retrospective request is the person's 亮点 / 不足 /
  改进建议.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from ..mail.answer import CommandResult
from ..mail.envelope import ReplyContext
from ..mail.reply import Acceptance
from ..store.models import (
    ActionItem,
    CollabStatus,
    InboundStatus,
    ItemStatus,
    Verdict,
)
from . import acceptance, retrospective
from .files import attached_files

# Outcome kinds that changed the ledger (the inbound log says "applied" for them).
CHANGING = (
    "delivered",
    "acceptance_requested",
    "files_follow",
    "accepted",
    "rejected",
    "retro_recorded",
)

# A bare verdict under an acceptance request that names one item. Negative words first.
_BARE_REJECT = re.compile(
    r"^\s*(?:验收|驗收)?\s*(?:不通过|不通過|未通过|未通過|驳回|駁回|reject(?:ed)?)"
    r"(?=$|[\s:：,，.。!！;；])\s*[:：,，.。]?\s*(?P<note>.*)$",
    re.IGNORECASE,
)
_BARE_ACCEPT = re.compile(
    r"^\s*(?:验收|驗收)?\s*(?:通过|通過|同意|确认|確認|合格|没问题|沒問題|accept(?:ed)?|approved?"
    r"|ok(?:ay)?|confirm(?:ed)?|lgtm|looks\s+good)"
    r"(?=$|[\s:：,，.。!！;；])\s*[:：,，.。!！]?\s*(?P<note>.*)$",
    re.IGNORECASE,
)

# "通过，谢谢" / "OK, thanks": the thanks is not the verdict's note.
_THANKS = re.compile(
    r"^(?:谢谢|謝謝|多谢|感谢|辛苦了?|thanks?(?:\s+you)?|thx|cheers)?[\s.!。！~]*$", re.IGNORECASE
)


def after_commands(ctx: ReplyContext, outcomes: list[CommandResult]) -> list[CommandResult]:
    """Deliverables and acceptance verdicts in a reply read for item commands."""
    if ctx.person is None or ctx.collab is None:
        return []
    results: list[CommandResult] = []
    done = {
        o.ref.id: (o.ref, o.kind == "applied")
        for o in outcomes
        if o.kind in ("applied", "unchanged") and o.ref is not None
        if o.ref.status is ItemStatus.DONE
    }
    if done:
        files = attached_files(ctx.envelope.message)
        for item, just_done in done.values():
            results += _delivery_outcomes(ctx, item, files, just_done)
    results += apply_verdicts(ctx, ctx.parsed.acceptance)
    return results


def _delivery_outcomes(ctx, item: ActionItem, files, just_done: bool) -> list[CommandResult]:
    delivery = acceptance.deliver(
        ctx.session, ctx.app, item, files, ctx.origin, just_done=just_done
    )
    results = []
    if delivery.stored:
        names = [d.filename for d in delivery.stored]
        results.append(CommandResult("delivered", item=item.number, word=" / ".join(names)))
    for name in delivery.too_large:
        limit = ctx.app.settings.archive.max_attachment_mb
        results.append(CommandResult("file_too_large", item=item.number, word=name, due=limit))
    for name in delivery.round_full:
        limit = ctx.app.settings.archive.max_round_mb
        results.append(CommandResult("round_too_large", item=item.number, word=name, due=limit))
    if delivery.requested:
        receiver = delivery.request.receiver
        results.append(CommandResult("acceptance_requested", item=item.number, word=receiver.name))
    if delivery.added_later:
        receiver = delivery.request.receiver
        quiet = ctx.app.settings.archive.acceptance_quiet.as_timedelta()
        minutes = max(1, int(quiet.total_seconds() // 60))
        results.append(
            CommandResult("files_follow", item=item.number, word=receiver.name, due=minutes)
        )
    if delivery.already_accepted:
        results.append(CommandResult("already_accepted", item=item.number))
    return results


def apply_verdicts(ctx: ReplyContext, verdicts: list[Acceptance]) -> list[CommandResult]:
    results = []
    for verdict in verdicts:
        item = ctx.session.scalar(
            select(ActionItem).where(
                ActionItem.collaboration_id == ctx.collab.id, ActionItem.number == verdict.item
            )
        )
        if item is None:
            results.append(CommandResult("no_such_item", item=verdict.item))
            continue
        if ctx.collab.status is CollabStatus.ARCHIVED:
            results.append(CommandResult("archived", item=verdict.item, ref=item))
            continue
        request = acceptance.latest_request(ctx.session, item)
        if request is None or request.verdict is not Verdict.PENDING:
            results.append(CommandResult("no_pending_acceptance", item=verdict.item, ref=item))
            continue
        if not acceptance.may_decide(ctx.person, request):
            results.append(
                CommandResult("not_receiver", item=verdict.item, word=request.receiver.name)
            )
            continue
        decision = Verdict.ACCEPTED if verdict.verdict == "accepted" else Verdict.REJECTED
        acceptance.decide(ctx.session, ctx.app, request, decision, verdict.note or "", ctx.origin)
        results.append(
            CommandResult(decision.value, item=verdict.item, word=verdict.note or "", ref=item)
        )
        if decision is Verdict.ACCEPTED and acceptance.all_accepted(ctx.session, ctx.collab.id):
            retrospective.start(
                ctx.session, ctx.app, ctx.collab, retrospective.ALL_ACCEPTED, ctx.origin
            )
            results.append(CommandResult("retrospective_started"))
    return results


def handle_acceptance_reply(ctx: ReplyContext) -> tuple[InboundStatus, str]:
    """A reply to an acceptance request. `验收 #3 通过` (and item commands) read as anywhere
    else; a bare `通过` / `不通过：原因` is about the one item the request was for."""
    bare = _bare_verdict(ctx)
    if bare is None or ctx.person is None or ctx.parsed.acceptance or ctx.parsed.commands:
        return ctx.read_as_item_commands()
    results = apply_verdicts(ctx, [bare])
    ctx.answer(results)
    changed = any(r.kind in CHANGING for r in results)
    summary = "; ".join(f"#{r.item} {r.kind}" for r in results)
    return (InboundStatus.APPLIED if changed else InboundStatus.IGNORED), summary


def _bare_verdict(ctx: ReplyContext) -> Acceptance | None:
    if ctx.answered is None or ctx.answered.item_id is None or ctx.collab is None:
        return None
    item = ctx.session.get(ActionItem, ctx.answered.item_id)
    first = next((line for line in ctx.parsed.new_text.splitlines() if line.strip()), "")
    for pattern, verdict in ((_BARE_REJECT, "rejected"), (_BARE_ACCEPT, "accepted")):
        match = pattern.match(first)
        if match:
            note = match.group("note").strip()
            return Acceptance(item.number, verdict, None if _THANKS.match(note) else note)
    return None


def handle_retrospective_reply(ctx: ReplyContext) -> tuple[InboundStatus, str]:
    """A reply to a retrospective request: the person's look back, kept as typed and split
    into 亮点 / 不足 / 改进建议. An answer with those headings is only that: a line in it such
    as `#2 延期了两天` is part of the story, not a command."""
    if ctx.person is None or ctx.collab is None:
        return ctx.read_as_item_commands()
    text = ctx.parsed.new_text
    headed = any(retrospective.read_answer(text).values())
    if not headed and (ctx.parsed.commands or ctx.parsed.acceptance or not text.strip()):
        return ctx.read_as_item_commands()
    if (
        not headed
        and ctx.parsed.ack
        and len([line for line in text.splitlines() if line.strip()]) == 1
    ):
        return ctx.read_as_item_commands()  # a lone "谢谢" / "收到": recorded, not answered
    if ctx.collab.status is CollabStatus.ARCHIVED:
        ctx.answer([CommandResult("collab_archived")])
        return InboundStatus.IGNORED, "retrospective answer after archiving: nothing changed"
    retro = retrospective.find(ctx.session, ctx.collab)
    if retro is None:
        return ctx.read_as_item_commands()
    retrospective.record_answer(ctx.session, ctx.app, retro, ctx.person, text, ctx.origin)
    ctx.answer([CommandResult("retro_recorded")])
    return InboundStatus.APPLIED, f"retrospective answer from {ctx.person.email} recorded"
