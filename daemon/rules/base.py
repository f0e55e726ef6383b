"""What a rule is: a tiny class with an id, a description, and a plan of occurrences.

A rule does not send anything itself. For one subject it answers "when would I speak, at
what level, and why" (`occurrences`, ascending, each with a period that names it in the
dedupe key); the engine keeps the next due time in the database, fires the latest due
occurrence (a daemon that was down for three days sends one reminder, not three), and
writes the mail in the same transaction as the schedule row that remembers it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar

from .workdays import marked

if TYPE_CHECKING:
    from ..store.models import ActionItem, RuleSchedule
    from .config import Rules


@dataclass(frozen=True)
class Occurrence:
    due: datetime
    period: str  # what makes this occurrence unique for its rule and subject
    why: str  # the arithmetic, for people reading `rules test` and the log
    level: int = 0
    roles: tuple[str, ...] = ("owner",)
    until: datetime | None = None  # a missed occurrence after this is stale, not sent
    episode: str = ""  # escalations: which episode it belongs to
    version: str = ""  # escalations: the rule version it was planned with
    snapshot: str = ""
    extra: dict = field(default_factory=dict, compare=False)


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

    # -- helpers --

    def at_send_time(self, day: date) -> datetime:
        return datetime.combine(day, self.rules.spec.calendar.send_at, self.rules.zone)

    def end_of(self, day: date) -> datetime:
        from datetime import timedelta

        return datetime.combine(day + timedelta(days=1), datetime.min.time(), self.rules.zone)

    def marked(self, why: str, start: datetime, end: datetime) -> str:
        """`why`, saying so when the working days between start and end were estimated."""
        zone = self.rules.zone
        years = self.calendar.estimated_years(
            start.astimezone(zone).date(), end.astimezone(zone).date()
        )
        return marked(why, bool(years))


def days_before(rules: Rules, deadline: date, amount: int, unit: str) -> tuple[date, str]:
    """`deadline` minus `amount` working (wd) or calendar (d) days, and the arithmetic in
    words: 'deadline 2026-10-09 minus 2wd = 2026-09-29 (2026-10-01…2026-10-08 not working:
    国庆节 National Day; 2026-09-30 …)'."""
    from datetime import timedelta

    if unit == "d":
        day = deadline - timedelta(days=amount)
        return day, f"deadline {deadline} minus {amount}d = {day}"
    walked = rules.calendar.explain(deadline, -amount)
    day = walked[-1].day
    skipped = [info for info in walked if not info.working]
    text = f"deadline {deadline} minus {amount}wd = {day}"
    if skipped:
        text += " (skipping " + _summarise(skipped) + ")"
    return day, marked(text, any(info.estimated for info in walked))


def _summarise(infos) -> str:
    """Runs of non-working days with the same reason: '2026-10-01…2026-10-08 国庆节 …'."""
    infos = sorted(infos, key=lambda i: i.day)
    runs: list[list] = []
    for info in infos:
        label = info.reason.split(" (")[0]
        if runs and runs[-1][2] == label and (info.day - runs[-1][1]).days == 1:
            runs[-1][1] = info.day
        else:
            runs.append([info.day, info.day, label])
    return "; ".join(
        f"{start}" + (f"…{end}" if end != start else "") + f" {label}" for start, end, label in runs
    )
