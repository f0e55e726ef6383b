"""Why the rules engine decided something, as data.

A rule records *what* made it speak (a code and the facts: the deadline, how many working
days, the escalation level and who it reaches), never a sentence. People read the reason
in their own language through rules/explain.py: mails in the recipient's locale, `rules
test`, `rules simulate` and the tick log in the operator's. So no engine word (`wd`,
`needs_support`, `level 1 after 0wd`) can reach a person, and both languages say the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .workdays import DayInfo

# The codes explain.py knows how to say; a code it lacks fails its test, not a mail.
CODES = frozenset(
    {
        "before_deadline",  # deadline, amount, unit, holidays
        "cadence",  # priority, how (daily | weekly), weekday
        "risk_check",  # deadline, amount, unit, holidays
        "escalation",  # trigger, deadline | since, elapsed, level, to, repeat, max_repeats
        "minutes_missing",  # ended, within, host_told
        "minutes_unconfirmed",  # published, within, host_told
        "silence_confirmed",  # name
        "digest",  # weekday, at, week
        "as_role",  # role: who the recipient is for this rule
        "deferred",  # until: quiet hours held the mail
        "duplicate",  # key: already queued
        "collapsed",  # count, due: occurrences missed while collabd was down
        "archived",  # the collaboration is archived
        "stale",  # until: the occurrence's window closed
        "next_due",  # held, next: held by quiet hours past the next one of the same rule
        "suppressed",  # source, level, note: an escalation in flight inhibits this rule
        "no_recipient",  # role, name: nobody fills a role
        "digest_missed",  # due: a digest missed by more than the catch-up window
        "estimated",  # the working days counted were estimated
        "error",  # text: an exception (for the operator)
        "dependency_done",  # items: what an item waits for is done (rules/dependencies.py)
        "dependency_risk",  # item, cause: what it waits for is late or due after it
        "collaborator_done",  # item: an item the recipient helps with is done
    }
)


@dataclass(frozen=True)
class Reason:
    code: str
    facts: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown reason code {self.code!r}")


def holiday_runs(days: list[DayInfo]) -> tuple[tuple[date, date, str], ...]:
    """Runs of consecutive days off for the same holiday: ((start, end, 国庆节), …).

    Weekends are left out: everybody knows them, and listing them is noise."""
    runs: list[list] = []
    for info in sorted((d for d in days if not d.working and d.holiday), key=lambda d: d.day):
        if runs and runs[-1][2] == info.holiday and info.day - runs[-1][1] <= timedelta(days=3):
            runs[-1][1] = info.day  # a weekend inside the break does not split it
        else:
            runs.append([info.day, info.day, info.holiday])
    return tuple((start, end, name) for start, end, name in runs)


def reason(code: str, **facts: object) -> Reason:
    return Reason(code, facts)


def when(instant: datetime, zone) -> datetime:
    """An instant in the rules' timezone, as reasons keep them."""
    return instant.astimezone(zone)
