"""Durations with explicit units, as admins write them in config: `30m`, `4h`, `1d`, `2wd`.

`wd` (working days) and `wh` (working hours) only mean something against a working-day
calendar; this module parses them, the rules' calendar does the arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

UNITS = {
    "s": "seconds",
    "m": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
    "wd": "working days",
    "wh": "working hours",
}
CALENDAR_UNITS = {"wd", "wh"}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(wd|wh|s|m|h|d|w)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Duration:
    amount: float
    unit: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", float(self.amount))

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _PATTERN.match(str(text))
        if not match:
            raise ValueError(
                f"{text!r} is not a duration; write a number and a unit, e.g. 30m, 4h, 1d, 2wd "
                f"(units: {', '.join(f'{u} = {name}' for u, name in UNITS.items())})"
            )
        return cls(float(match.group(1)), match.group(2).lower())

    @property
    def needs_calendar(self) -> bool:
        return self.unit in CALENDAR_UNITS

    def as_timedelta(self) -> timedelta:
        """Wall-clock length; working-time units need the calendar instead."""
        if self.needs_calendar:
            raise ValueError(f"{self} is in {UNITS[self.unit]}: it needs the working-day calendar")
        return timedelta(**{UNITS[self.unit]: self.amount})

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount.is_integer() else self.amount
        return f"{amount}{self.unit}"
