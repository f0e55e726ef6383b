"""The coordinator answers an attendee's proposed new time (an iMIP COUNTER, Outlook's
"建议新时间") by replying to collabd's notice: `同意` / `接受新时间` / `accept` moves the
meeting (an update goes to everyone), `不同意` / `维持原时间` / `decline` keeps it and
drops the proposal. A REPLY_HANDLERS row (inbound/routes.py) for `meeting_answer_notice`.
"""

from __future__ import annotations

import re

from ..errors import DataError, UsageError
from ..ledger.history import record_on
from ..ledger.permissions import Action, may
from ..mail.answer import CommandResult
from ..mail.envelope import Decision, ReplyContext
from ..store.models import Attendee, InboundStatus, Meeting
from .scheduling import NoticeTooShort, earliest_start, update
from .specs import MeetingSpec

# Negative words first: 不同意 is not 同意.
_DECLINE = re.compile(
    r"^\s*(?:不同意|不接受|拒绝|拒絕|维持原时间|維持原時間|保持原时间|按原时间|按原計劃|按原计划"
    r"|decline[ds]?|reject(?:ed)?|no\b|keep\s+(?:the\s+)?(?:original|current)\s+time)",
    re.IGNORECASE,
)
_ACCEPT = re.compile(
    r"^\s*(?:同意|接受新时间|接受新時間|接受|可以|确认|確認|没问题|沒問題|好的|改吧"
    r"|accept(?:ed)?|agreed?|ok(?:ay)?|yes|confirm(?:ed)?|sounds\s+good|fine)",
    re.IGNORECASE,
)


def answer_proposal(ctx: ReplyContext) -> Decision:
    answered = ctx.answered
    meeting = (
        ctx.session.get(Meeting, answered.meeting_id) if answered and answered.meeting_id else None
    )
    first = next((line for line in ctx.parsed.new_text.splitlines() if line.strip()), "")
    decline = bool(_DECLINE.match(first))
    accept = not decline and bool(_ACCEPT.match(first))
    if meeting is None or meeting.collaboration is None or not (accept or decline):
        return ctx.read_as_item_commands()  # item commands, thanks …: the usual reading
    if not may(
        Action.SCHEDULE_MEETING, ctx.person, meeting.collaboration, ctx.app.settings.permissions
    ):
        collab = meeting.collaboration
        who = "、".join(dict.fromkeys(p.name for p in (collab.coordinator, collab.initiator)))
        ctx.answer([CommandResult("not_permitted", word=who)])
        return InboundStatus.IGNORED, f"meeting {meeting.id}: {ctx.envelope.sender} may not move it"
    proposal = _proposal(meeting, answered.subject)
    if proposal is None:
        ctx.answer([CommandResult("no_proposal", word=meeting.title)])
        return InboundStatus.IGNORED, f"meeting {meeting.id}: no proposed time is pending"
    who = proposal.person.name if proposal.person else proposal.email
    zone = ctx.app.settings.tz
    proposed = proposal.proposed_start.astimezone(zone)
    if decline:
        record_on(
            ctx.session,
            ctx.origin,
            ctx.app.clock.now(),
            meeting,
            action="counter_declined",
            field=f"proposal:{proposal.email}",
            old=f"{proposed:%Y-%m-%d %H:%M}",
        )
        proposal.proposed_start = proposal.proposed_end = None
        ctx.answer([CommandResult("counter_declined", word=who, due=proposed)])
        return InboundStatus.APPLIED, f"meeting {meeting.id}: {who}'s proposal declined"
    minutes = None
    if proposal.proposed_end is not None:
        minutes = int((proposal.proposed_end - proposal.proposed_start).total_seconds() // 60)
    spec = MeetingSpec(start=proposed.isoformat(), duration=minutes or None)
    try:
        outcome = update(ctx.session, ctx.app, meeting, spec, ctx.origin)
    except (DataError, UsageError) as exc:  # e.g. too short a notice, someone else's meeting
        reason, then = _why_not_moved(ctx, meeting, proposed, exc)
        failed = CommandResult("counter_failed", word=who, due=proposed, reason=reason, then=then)
        ctx.answer([failed])
        return InboundStatus.IGNORED, f"meeting {meeting.id}: not moved: {exc}"
    ctx.answer([CommandResult("counter_accepted", word=who, due=proposed)])
    return (
        InboundStatus.APPLIED,
        f"meeting {meeting.id} moved to {proposed:%Y-%m-%d %H:%M} ({who}'s proposal); "
        f"{outcome.queued} update(s) queued",
    )


def _proposal(meeting: Meeting, subject: str) -> Attendee | None:
    """The attendee whose proposal the notice was about (named in its subject), else the
    only pending proposal."""
    pending = [a for a in meeting.attendees if a.proposed_start is not None]
    named = [a for a in pending if (a.person and a.person.name in subject) or a.email in subject]
    if len(named) == 1:
        return named[0]
    return pending[0] if len(pending) == 1 else None


def _why_not_moved(ctx: ReplyContext, meeting: Meeting, proposed, exc: Exception):
    """Why the proposal could not be taken, as a code the answer's template says in the
    coordinator's language with what to do instead (the exception's English is the log's),
    and the value that sentence needs."""
    app = ctx.app
    if meeting.organizer_email != app.identity.address:
        return "not_ours", meeting.organizer_email  # their own calendar: they move it
    if isinstance(exc, NoticeTooShort):
        return "notice", earliest_start(app, app.clock.now()).astimezone(app.settings.tz)
    if proposed <= app.clock.now():
        return "past", None
    if meeting.collaboration is not None and meeting.collaboration.status.value != "active":
        return "archived", None
    return "other", None
