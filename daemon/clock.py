"""The one place collabd asks what time it is.

Everything that depends on time takes a Clock, so the demo, `--at` options and tests run
on a simulated clock with exactly the code production runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from .errors import UsageError


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that only moves when told to (the demo, tests, `--at`)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> datetime:
        self._at += delta
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    """ISO 8601 as people type it; a time without an offset is in the configured zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{text!r} is not a time; write e.g. 2026-11-23T09:00 or 2026-11-23T09:00+08:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def zoned(instant: datetime, zone: ZoneInfo, seconds: bool = True) -> str:
    """An instant as an operator reads it beside UTC logs: local time with its offset,
    "2026-12-03 21:47:55 +08:00" (a bare local time next to UTC log lines misleads)."""
    local = instant.astimezone(zone)
    offset = local.strftime("%z")
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{shown} {offset[:3]}:{offset[3:]}"


# The days collabd plans with. A deadline in year 9999 or year 1 is a typo, and the
# working-day arithmetic after it overflows (a tick then failed on that item for good).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)


def plausible_day(day: date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY
