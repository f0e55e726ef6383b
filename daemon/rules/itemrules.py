"""The rules about action items: reminders, the risk check, escalations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from ..durations import Duration
from ..store.models import CLOSED_STATUSES, ActionItem, ItemStatus, Priority, RuleSchedule
from .base import ItemRule, Occurrence, days_before
from .config import WEEKDAYS, Escalation
from .reasons import reason

OPEN = frozenset(s for s in ItemStatus if s not in CLOSED_STATUSES)


class BeforeDeadlineReminder(ItemRule):
    rule_id = "reminder.before_deadline"
    description = "remind the owner N working days before the deadline (seed: 1–2)"
    kind = "reminder"
    group = True

    def enabled(self) -> bool:
        spec = self.rules.spec.reminders
        return spec.enabled and bool(spec.before_deadline)

    def occurrences(self, item: ActionItem, state: RuleSchedule | None) -> Iterator[Occurrence]:
        if item.deadline is None or item.status not in OPEN:
            return
        offsets = sorted(
            {(int(d.amount), d.unit) for d in self.rules.spec.reminders.before_deadline},
            key=lambda pair: -pair[0],
        )
        planned = []
        for amount, unit in offsets:
            day, facts, estimated = days_before(self.rules, item.deadline, amount, unit)
            planned.append(
                Occurrence(
                    due=self.at_send_time(day),
                    period=f"{item.deadline}-{amount}{unit}",
                    reason=reason("before_deadline", **facts),
                    until=self.end_of(item.deadline),
                    estimated=estimated,
                )
            )
        yield from sorted(planned, key=lambda o: o.due)

    def as_sent(self, occurrence: Occurrence, now: datetime) -> Occurrence:
        return self.days_left_as_sent(occurrence, now)


class CadenceReminder(ItemRule):
    rule_id = "reminder.cadence"
    description = "remind the owner of an open item daily (high) or weekly (normal)"
    kind = "reminder"
    group = True

    def enabled(self) -> bool:
        return self.rules.spec.reminders.enabled

    def occurrences(self, item: ActionItem, state: RuleSchedule | None) -> Iterator[Occurrence]:
        if item.status not in OPEN:
            return
        cadence = self.rules.spec.reminders.cadence
        how = {Priority.HIGH: cadence.high, Priority.NORMAL: cadence.normal}.get(
            item.priority, cadence.low
        )
        if how == "off":
            return
        weekday = WEEKDAYS.index(cadence.weekday)
        day = item.created_at.astimezone(self.rules.zone).date() + timedelta(days=1)
        if state is not None and state.last_due_at is not None:
            day = max(day, state.last_due_at.astimezone(self.rules.zone).date() + timedelta(1))
        # Stops where the deadline takes over (the before-deadline reminder and overdue).
        last = item.deadline - timedelta(days=1) if item.deadline else None
        for _ in range(3660):
            if last is not None and day > last:
                return
            info = self.calendar.info(day)
            if (how == "daily" or day.weekday() == weekday) and info.working:
                yield Occurrence(
                    due=self.at_send_time(day),
                    period=f"{day}",
                    reason=reason(
                        "cadence",
                        priority=item.priority.value,
                        how=how,
                        weekday=cadence.weekday,
                    ),
                    until=self.end_of(day),
                    estimated=info.estimated,
                )
            day += timedelta(days=1)


class RiskCheck(ItemRule):
    rule_id = "risk_check"
    description = "ask the owner, 2 working days before the deadline, whether it is on track"
    kind = "risk_check"

    def enabled(self) -> bool:
        return self.rules.spec.risk_check.enabled

    def occurrences(self, item: ActionItem, state: RuleSchedule | None) -> Iterator[Occurrence]:
        if item.deadline is None or item.status not in OPEN or item.status is ItemStatus.DELAYED:
            return
        offset = self.rules.spec.risk_check.before_deadline
        day, facts, estimated = days_before(
            self.rules, item.deadline, int(offset.amount), offset.unit
        )
        yield Occurrence(
            due=self.at_send_time(day),
            period=f"{item.deadline}",
            reason=reason("risk_check", **facts),
            until=self.end_of(item.deadline),
            estimated=estimated,
        )

    def as_sent(self, occurrence: Occurrence, now: datetime) -> Occurrence:
        return self.days_left_as_sent(occurrence, now)


class EscalationRule(ItemRule):
    """Levels with delays, repeats and a repeat limit (PagerDuty-like), per episode.

    An episode starts when the trigger starts (the deadline passes; the item becomes blocked)
    and ends when it stops. The first mail of an episode stores the rule's definition on the
    schedule row; the rest of the episode follows that stored version even if the rules file
    changes meanwhile."""

    kind = "escalation"

    def __init__(self, rules, escalation: Escalation) -> None:
        super().__init__(rules)
        self.escalation = escalation

    @property
    def rule_id(self) -> str:  # type: ignore[override]
        return self.escalation.rule_id

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.escalation.description or f"escalate {self.escalation.trigger} items"

    def episode(self, item: ActionItem) -> tuple[str, datetime, dict] | None:
        """(episode id, when the trigger started counting, the facts of why) or None if not
        triggered."""
        trigger = self.escalation.trigger
        if item.status not in OPEN:
            return None
        if trigger == "overdue":
            if item.deadline is None or item.status is ItemStatus.DELAYED:
                return None
            start = self.calendar.next_working_time(self.end_of(item.deadline))
            return f"overdue@{item.deadline}", start, {"deadline": item.deadline}
        wanted = ItemStatus.BLOCKED if trigger == "blocked" else ItemStatus.NEEDS_SUPPORT
        if item.status is not wanted:
            return None
        since = item.status_since
        return (
            f"{trigger}@{since.isoformat()[:19]}",
            since,
            {"since": since.astimezone(self.rules.zone)},
        )

    def occurrences(self, item: ActionItem, state: RuleSchedule | None) -> Iterator[Occurrence]:
        found = self.episode(item)
        if found is None:
            return
        episode, start, facts = found
        spec = self.escalation
        version, snapshot = spec.version(), ""
        if state is not None and state.episode == episode and state.snapshot:
            spec = Escalation.model_validate(json.loads(state.snapshot))
            version, snapshot = state.rule_version, state.snapshot
        if snapshot == "":
            snapshot = json.dumps(spec.model_dump(mode="json"), ensure_ascii=False)
        begin = self.calendar.add(start, spec.after) if spec.after.amount else start
        levels = spec.levels
        dues = [self._add(begin, level.after) for level in levels]
        for number, (level, due) in enumerate(zip(levels, dues, strict=True), start=1):
            following = dues[number] if number < len(levels) else None
            repeat = 0
            while True:
                yield Occurrence(
                    due=due,
                    period=f"{episode}:L{number}r{repeat}",
                    reason=reason(
                        "escalation",
                        trigger=spec.trigger,
                        elapsed=self._elapsed(facts, start, due),
                        level=number,
                        to=tuple(level.to),
                        repeat=repeat,
                        max_repeats=level.max_repeats,
                        **facts,
                    ),
                    estimated=self.estimated(start, due),
                    level=number,
                    roles=tuple(level.to),
                    episode=episode,
                    version=version,
                    snapshot=snapshot,
                )
                repeat += 1
                if level.repeat is None or repeat > level.max_repeats:
                    break
                due = self._add(due, level.repeat)
                if following is not None and due >= following:
                    break

    def as_sent(self, occurrence: Occurrence, now: datetime) -> Occurrence:
        """The "已过 N 个工作日" of an escalation counts to the day the mail goes out: one
        sent long after its level was due (collabd paused, an old deadline) must not say
        the level's threshold instead of how late the item really is."""
        facts = occurrence.reason.facts
        first = facts["deadline"] if "deadline" in facts else facts["since"].date()
        today = now.astimezone(self.rules.zone).date()
        elapsed = max(self.calendar.working_days_between(first, today), 0)
        if elapsed <= facts.get("elapsed", 0):
            return occurrence
        return replace(occurrence, reason=reason("escalation", **{**facts, "elapsed": elapsed}))

    def _add(self, instant: datetime, duration: Duration) -> datetime:
        return self.calendar.add(instant, duration) if duration.amount else instant

    def _elapsed(self, facts: dict, start: datetime, due: datetime) -> int:
        """Working days since the deadline (or since the status began) when this is due."""
        zone = self.rules.zone
        first = facts["deadline"] if "deadline" in facts else start.astimezone(zone).date()
        return max(self.calendar.working_days_between(first, due.astimezone(zone).date()), 0)


def item_rules(rules) -> list[ItemRule]:
    """Every item rule the rules file switches on, escalations first (they can inhibit)."""
    candidates: list[ItemRule] = [EscalationRule(rules, e) for e in rules.spec.escalations]
    candidates += [BeforeDeadlineReminder(rules), CadenceReminder(rules), RiskCheck(rules)]
    return [rule for rule in candidates if rule.enabled()]
