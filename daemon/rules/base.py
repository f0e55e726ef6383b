"""What a rule is: a tiny class with an id, a description, and a plan of occurrences.

A rule does not send anything itself. For one subject it answers "when would I speak, at
what level, and why" (`occurrences`, ascending, each with a period that names it in the
dedupe key); the engine keeps the next due time in the database, fires the latest due
occurrence (a daemon that was down for three days sends one reminder, not three), and
writes the mail in the same transaction as the schedule row that remembers it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar

from .reasons import Reason, holiday_runs, reason

if TYPE_CHECKING:
    from ..store.models import ActionItem, RuleSchedule
    from .config import Rules


@dataclass(frozen=True)
class Occurrence:
    due: datetime
    period: str  # what makes this occurrence unique for its rule and subject
    reason: Reason = field(compare=False)  # why, as data (rules/explain.py words it)
    level: int = 0
    roles: tuple[str, ...] = ("owner",)
    until: datetime | None = None  # a missed occurrence after this is stale, not sent
    episode: str = ""  # escalations: which episode it belongs to
    version: str = ""  # escalations: the rule version it was planned with
    snapshot: str = ""
    extra: dict = field(default_factory=dict, compare=False)
    estimated: bool = False  # the working days it counted were estimated

    @property
    def reasons(self) -> list[Reason]:
        return [self.reason] + ([reason("estimated")] if self.estimated else [])


class ItemRule:
    """A rule about one action item."""

    rule_id: ClassVar[str]
    description: ClassVar[str]
    kind: ClassVar[str]  # the mail template (and OutboxMessage.kind)
    group: ClassVar[bool] = False  # reminders: one mail per person listing their items

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.calendar = rules.calendar

    def enabled(self) -> bool:
        return True

    def occurrences(self, item: ActionItem, state: RuleSchedule | None) -> Iterator[Occurrence]:
        raise NotImplementedError

    def as_sent(self, occurrence: Occurrence, now: datetime) -> Occurrence:
        """The occurrence as it is worded when it goes out `now` (a late one, after a pause
        or a catch-up, may have to say more than when it was due)."""
        return occurrence

    def days_left_as_sent(self, occurrence: Occurrence, now: datetime) -> Occurrence:
        """ "还有 N 个工作日" counted from the day the mail really goes out: a reminder
        planned for the day before but sent on the deadline day (an item added late, a
        pause) says the deadline is today, not "1 working day left"."""
        facts = occurrence.reason.facts
        today = now.astimezone(self.rules.zone).date()
        if today <= occurrence.due.astimezone(self.rules.zone).date():
            return occurrence
        deadline = facts["deadline"]
        if facts.get("unit") == "wd":
            left = self.calendar.working_days_between(today, deadline)
        else:
            left = (deadline - today).days
        if left >= facts.get("amount", 0):
            return occurrence
        words = {**facts, "amount": max(left, 0)}
        return replace(occurrence, reason=reason(occurrence.reason.code, **words))

    # -- helpers --

    def at_send_time(self, day: date) -> datetime:
        return datetime.combine(day, self.rules.spec.calendar.send_at, self.rules.zone)

    def end_of(self, day: date) -> datetime:
        from datetime import timedelta

        return datetime.combine(day + timedelta(days=1), datetime.min.time(), self.rules.zone)

    def estimated(self, start: datetime, end: datetime) -> bool:
        """Whether the working days between start and end were estimated."""
        zone = self.rules.zone
        return bool(
            self.calendar.estimated_years(
                start.astimezone(zone).date(), end.astimezone(zone).date()
            )
        )


def days_before(rules: Rules, deadline: date, amount: int, unit: str) -> tuple[date, dict, bool]:
    """`deadline` minus `amount` working (wd) or calendar (d) days: the day, the facts a
    reason says (the holidays it skipped), and whether the working days were estimated."""
    from datetime import timedelta

    facts: dict = {"deadline": deadline, "amount": amount, "unit": unit}
    if unit == "d":
        return deadline - timedelta(days=amount), facts, False
    walked = rules.calendar.explain(deadline, -amount)
    facts["holidays"] = holiday_runs([info for info in walked if not info.working])
    due = rules.calendar.info(deadline)
    if not due.working:
        # A deadline on a day off (a Saturday, 国庆): what is left is the working days up
        # to it, not the offset walked (2 before a Saturday is Thursday, with Friday left).
        facts["day_off"] = due.holiday or "weekend"
        facts["amount"] = rules.calendar.working_days_between(walked[-1].day, deadline)
    return walked[-1].day, facts, any(info.estimated for info in walked)
