"""The rules engine: one pass over what is due, as of one instant.

Runs inside one transaction (run_tick commits it; `rules test` and `rules simulate` roll it
back): bring the schedule up to date with the ledger, take the due rows (SKIP LOCKED on
PostgreSQL, so a second replica takes other rows), let each rule decide, and write every
mail to the outbox with a dedupe key of rule, subject, level and period — so a restart,
a config reload or a second replica can never send the same notice twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..store.models import (
    ActionItem,
    CollabStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    RuleSchedule,
)
from . import collaborators, dependencies, digest, minutes
from .base import ItemRule, Occurrence
from .evaluation import Decision, Pass
from .explain import explain, holiday, role_name, span
from .itemrules import item_rules
from .reasons import reason
from .recipients import resolve
from .schedule import load_items, sync

if TYPE_CHECKING:
    from ..app import App

log = logging.getLogger(__name__)
BATCH = 5000


@dataclass
class Firing:
    """A rule speaking about one item to one person (before mails are put together)."""

    rule: ItemRule
    item: ActionItem
    occurrence: Occurrence
    person: Person
    role: str


# What a whole pass does after the item rules, in order: each takes the Pass and records its
# decisions on it. A table, so a new kind of chasing is one line here and one module.
COLLABORATION_PASSES: tuple[Callable[[Pass], None], ...] = (
    digest.run,  # the weekly digest to each collaboration's recipients
    minutes.run,  # minutes not submitted, minutes not confirmed
    dependencies.run,  # what an item waits for is done (start), or late (at risk)
    collaborators.run,  # an item someone helps with is done: they hear it (never chased)
)


def evaluate(session: Session, app: App, now: datetime, item_ids=None) -> list[Decision]:
    """Decide everything due at `now`; the caller commits (tick) or rolls back (test)."""
    run = Pass(session, app, now, item_ids)
    rules = item_rules(run.rules)
    sync(session, rules, now, lambda rule, item, exc: _failed(run, rule.rule_id, item, exc))
    if run.item_ids is None:
        _withdraw_stale(run)
    _item_pass(run, rules)
    if run.item_ids is None:  # a whole pass, not a test of some items
        for collaboration_pass in COLLABORATION_PASSES:
            name = f"{collaboration_pass.__module__.rpartition('.')[2]}"
            try:
                with session.begin_nested():  # a failed pass leaves nothing half-written
                    collaboration_pass(run)
            except Exception as exc:  # the other passes, and the item rules' mail, go on
                log.exception("rules pass %s failed", name)
                run.note(
                    name, 0, "error", "", [reason("error", text=f"{type(exc).__name__}: {exc}")]
                )
    return run.decisions


# Rule mail that only makes sense before the deadline: "还有 1 个工作日", "能否按期完成？".
_BEFORE_DEADLINE_RULES = ("reminder.before_deadline", "risk_check")


def _withdraw_stale(run: Pass) -> None:
    """Reminders queued before the deadline (held by quiet hours) that have not gone out by
    the time the deadline day is over are withdrawn: after a night of downtime they would
    arrive beside the overdue mail, saying days are left."""
    today = run.now.astimezone(run.rules.zone).date()
    past = select(ActionItem.id).where(ActionItem.deadline < today)
    withdrawn = run.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.rule_id.in_(_BEFORE_DEADLINE_RULES),
            OutboxMessage.item_id.in_(past.scalar_subquery()),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="stale: the deadline passed first")
        .execution_options(synchronize_session=False)
    ).rowcount
    if withdrawn:
        log.info(
            "rules: %d reminder(s) withdrawn: their deadline passed before they went", withdrawn
        )


def _failed(run: Pass, rule_id: str, item: ActionItem, exc: Exception) -> None:
    """One rule could not be evaluated for one item: say which, skip it, go on."""
    if any(
        d.status == "error" and (d.rule, d.item_id) == (rule_id, item.id) for d in run.decisions
    ):
        return  # planning and firing it failed alike: once is enough
    log.error("rule %s on item %s failed: %s: %s", rule_id, item.ref, type(exc).__name__, exc)
    failure = reason("error", text=f"{type(exc).__name__}: {exc}")
    run.note(rule_id, 0, "error", item.ref, [failure], item.id)


def _due_rows(run: Pass, limit: int) -> list[RuleSchedule]:
    query = (
        select(RuleSchedule)
        .where(RuleSchedule.next_due_at <= run.now)
        .order_by(RuleSchedule.next_due_at, RuleSchedule.id)
        .limit(limit)
    )
    if run.item_ids is not None:
        query = query.where(RuleSchedule.item_id.in_(run.item_ids))
    if run.session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(run.session.scalars(query))


def _item_pass(run: Pass, rules: list[ItemRule]) -> None:
    by_id = {rule.rule_id: rule for rule in rules}
    rows = [row for row in _due_rows(run, BATCH) if row.item_id is not None]
    items = load_items(run.session, {row.item_id for row in rows})
    # Escalations first: an escalation reaching the head this tick inhibits the reminder.
    rows.sort(key=lambda row: (not row.rule_id.startswith("escalation."), row.id))
    run.in_flight = _in_flight(run, {row.item_id for row in rows})
    firings: list[Firing] = []
    for row in rows:
        rule, item = by_id.get(row.rule_id), items.get(row.item_id)
        if rule is None or item is None:
            row.next_due_at = None  # a rule removed from the file, or the item is gone
            continue
        try:
            firings += _fire(run, rule, item, row)
        except Exception as exc:  # the row stays due: the next tick tries (and says) again
            _failed(run, rule.rule_id, item, exc)
    _mail(run, firings)


def _fire(run: Pass, rule: ItemRule, item: ActionItem, row: RuleSchedule) -> list[Firing]:
    due, upcoming = [], None
    for occurrence in rule.occurrences(item, row):
        if row.last_due_at is not None and occurrence.due <= row.last_due_at:
            continue
        if occurrence.due > run.now:
            upcoming = occurrence
            break
        due.append(occurrence)
    row.next_due_at = upcoming.due if upcoming else None
    row.updated_at = run.now
    if not due:
        return []
    latest = rule.as_sent(due[-1], run.now)
    row.last_due_at = latest.due
    if len(due) > 1:  # missed while collabd was not running: one mail, not a burst
        merged = reason("collapsed", count=len(due) - 1, due=latest.due.astimezone(run.rules.zone))
        run.note(rule.rule_id, latest.level, "collapsed", item.ref, [merged], item.id)
    if item.collaboration.status is not CollabStatus.ACTIVE:  # archived or cancelled
        run.note(rule.rule_id, latest.level, "skipped", item.ref, [reason("archived")], item.id)
        return []
    # Stale when its window has closed by the time it can actually go out: a reminder
    # before the deadline, held by quiet hours until after the deadline day, would arrive
    # beside the overdue mail. (A cadence reminder held overnight still goes: deferred.)
    goes_out = max(run.now, run.release) if rule.rule_id in _BEFORE_DEADLINE_RULES else run.now
    if latest.until is not None and goes_out >= latest.until:
        closed = reason("stale", until=latest.until.astimezone(run.rules.zone))
        run.note(rule.rule_id, latest.level, "stale", item.ref, [*latest.reasons, closed], item.id)
        return []
    if latest.episode:
        run.in_flight[(row.rule_id, item.id)] = latest.level  # may inhibit later rows
        if row.episode != latest.episode:
            row.episode, row.rule_version, row.snapshot = (
                latest.episode,
                latest.version,
                latest.snapshot,
            )
        row.level = latest.level
    if _next_one_follows(run, upcoming):
        held = reason(
            "next_due",
            held=run.release.astimezone(run.rules.zone),
            next=upcoming.due.astimezone(run.rules.zone),
        )
        run.note(
            rule.rule_id, latest.level, "superseded", item.ref, [*latest.reasons, held], item.id
        )
        return []
    inhibitor = _inhibited(run, rule.rule_id, item)
    if inhibitor:
        run.note(
            rule.rule_id,
            latest.level,
            "suppressed",
            item.ref,
            [*latest.reasons, inhibitor],
            item.id,
        )
        return []
    people, missing = resolve(list(latest.roles), item.collaboration, item)
    for problem in missing:
        run.note(rule.rule_id, latest.level, "no-recipient", item.ref, [problem], item.id)
    return [Firing(rule, item, latest, person, role) for person, role in people]


def _next_one_follows(run: Pass, upcoming: Occurrence | None) -> bool:
    """Whether quiet hours hold this mail until the day the rule's next occurrence is due
    anyway: the owner would get the same reminder at 08:00 and again at 09:00. One reminder
    per item per rule per day; the later one carries the newer facts."""
    if upcoming is None or run.release <= run.now:
        return False
    zone = run.rules.zone
    return upcoming.due.astimezone(zone).date() <= run.release.astimezone(zone).date()


def _in_flight(run: Pass, item_ids: set[int]) -> dict[tuple[str, int], int]:
    """{(rule id, item id): level} of escalations in flight for these items, in one query."""
    sources = {inhibit.source for inhibit in run.rules.spec.inhibit}
    found: dict[tuple[str, int], int] = {}
    if not sources or not item_ids:
        return found
    ids = list(item_ids)
    with run.session.no_autoflush:
        for start in range(0, len(ids), 500):
            query = select(RuleSchedule.rule_id, RuleSchedule.item_id, RuleSchedule.level).where(
                RuleSchedule.item_id.in_(ids[start : start + 500]),
                RuleSchedule.rule_id.in_(sources),
                RuleSchedule.episode != "",
            )
            found.update({(rule, item): level for rule, item, level in run.session.execute(query)})
    return found


def _inhibited(run: Pass, rule_id: str, item: ActionItem):
    """The reason an escalation in flight keeps this rule quiet, or None."""
    for inhibit in run.rules.spec.inhibit:
        if not any(
            rule_id == pattern or (pattern.endswith("*") and rule_id.startswith(pattern[:-1]))
            for pattern in inhibit.suppress
        ):
            continue
        level = run.in_flight.get((inhibit.source, item.id), 0)
        if level >= inhibit.min_level:
            return reason("suppressed", source=inhibit.source, level=level, note=inhibit.reason)
    return None


def _left(run: Pass, occurrence, locale: str) -> str:
    """How long is really left on the day the mail goes out ("" once nothing is): working
    days after today up to the deadline, not the rule's offset (2 working days before a
    Saturday deadline is Thursday, and only Friday is left)."""
    facts = occurrence.reason.facts
    if "deadline" not in facts or "unit" not in facts:
        return ""
    today = run.now.astimezone(run.rules.zone).date()
    if facts["unit"] == "wd":
        left = run.rules.calendar.working_days_between(today, facts["deadline"])
    else:
        left = (facts["deadline"] - today).days
    return span(left, facts["unit"], locale) if left > 0 else ""


def _day_off(run: Pass, occurrence, locale: str) -> str:
    """What the deadline is when it is no working day and still ahead: "周末", "国庆节"
    ("" otherwise), so a mail never says "今天到期" the day before a Saturday deadline."""
    deadline = occurrence.reason.facts.get("deadline")
    today = run.now.astimezone(run.rules.zone).date()
    if deadline is None or deadline <= today:
        return ""
    info = run.rules.calendar.info(deadline)
    if info.working:
        return ""
    if info.holiday:
        return holiday(info.holiday, locale)
    return "weekend" if str(locale).startswith("en") else "周末"


def _mail(run: Pass, firings: list[Firing]) -> None:
    grouped: dict[tuple[int, int], list[Firing]] = defaultdict(list)
    for firing in firings:
        if firing.rule.group:
            grouped[(firing.person.id, firing.item.collaboration_id)].append(firing)
            continue
        item, occurrence = firing.item, firing.occurrence
        run.send(
            rule=firing.rule.rule_id,
            level=occurrence.level,
            kind=firing.rule.kind,
            key=(
                f"{firing.rule.rule_id}:item{item.id}:L{occurrence.level}:"
                f"{occurrence.period}:p{firing.person.id}"
            ),
            to=firing.person,
            context={
                "collab": item.collaboration,
                "item": item,
                "level": occurrence.level,
                "role": firing.role,
                "role_name": role_name(firing.role, firing.person.locale),
                "trigger": occurrence.reason.facts.get("trigger", ""),
                "why": explain(occurrence.reasons, firing.person.locale),
                # how long is left when the mail goes out ("" once the deadline is today)
                "left": _left(run, occurrence, firing.person.locale),
                "day_off": _day_off(run, occurrence, firing.person.locale),
                "today": run.now.astimezone(run.rules.zone).date(),
            },
            subject=item.ref,
            reasons=[*occurrence.reasons, reason("as_role", role=firing.role)],
            collaboration_id=item.collaboration_id,
            item_id=item.id,
        )
    for group in grouped.values():
        group.sort(key=lambda f: (f.item.deadline is None, f.item.deadline, f.item.number))
        person, collab = group[0].person, group[0].item.collaboration
        items = list({f.item.id: f.item for f in group}.values())
        fingerprint = hashlib.sha256(
            ";".join(f"{f.rule.rule_id}/{f.item.id}/{f.occurrence.period}" for f in group).encode()
        ).hexdigest()[:16]
        rule = next(
            (f.rule.rule_id for f in group if f.rule.rule_id == "reminder.before_deadline"),
            group[0].rule.rule_id,
        )
        run.send(
            rule=rule,
            level=0,
            kind="reminder",
            key=f"reminder:p{person.id}:c{collab.id}:{run.now:%Y%m%d}:{fingerprint}",
            to=person,
            context={
                "collab": collab,
                "items": items,
                "reasons": {f.item.id: explain(f.occurrence.reasons, person.locale) for f in group},
                "today": run.now.astimezone(run.rules.zone).date(),
            },
            subject=", ".join(dict.fromkeys(f.item.ref for f in group)),
            reasons=[r for f in group for r in f.occurrence.reasons],
            collaboration_id=collab.id,
            item_id=items[0].id if len(items) == 1 else None,
        )
