"""Dates on the command line as people write them: `2026-12-03`, `2026/12/3`,
`2026年12月3日`, or `12月3日` (the next 3 December on or after today).

A date without a year needs today, which only the command's clock knows (`--at` moves it):
argparse keeps it as a `MonthDay`, and `resolve_days` turns every one of them into a date
once the clock is known, before the handler runs.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from ..clock import EARLIEST_DAY, LATEST_DAY, plausible_day
from ..errors import UsageError

# Anchored, bounded patterns on a short argument: nothing here can be superlinear.
_FULL = re.compile(r"(\d{4})\s*(?:-|/|\.|年)\s*(\d{1,2})\s*(?:-|/|\.|月)\s*(\d{1,2})\s*(?:日|号)?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*(?:日|号)?")
_HINT = "write 2026-12-03, 2026年12月3日 or 12月3日"


@dataclass(frozen=True)
class MonthDay:
    """`12月3日`: a day without its year, until today is known."""

    month: int
    day: int
    text: str

    def on_or_after(self, today: date) -> date:
        for year in range(today.year, today.year + 8):  # 2月29日: the next leap year
            try:
                found = date(year, self.month, self.day)
            except ValueError:
                continue
            if found >= today:
                return found
        raise UsageError(f"{self.text!r} is not a date; {_HINT}")


def day_argument(text: str) -> date | MonthDay:
    """An argparse type: a full date, or a month and day to resolve against today."""
    folded = unicodedata.normalize("NFKC", text).strip()
    full = _FULL.fullmatch(folded)
    if full:
        try:
            found = date(int(full[1]), int(full[2]), int(full[3]))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date; {_HINT}") from None
        if not plausible_day(found):
            raise argparse.ArgumentTypeError(
                f"{text!r}: collabd plans days from {EARLIEST_DAY} to {LATEST_DAY}"
            )
        return found
    short = _MONTH_DAY.fullmatch(folded)
    if short:
        month, day = int(short[1]), int(short[2])
        try:
            date(2024, month, day)  # a leap year: any real month and day exists in it
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date; {_HINT}") from None
        return MonthDay(month, day, text)
    raise argparse.ArgumentTypeError(f"{text!r} is not a date; {_HINT}")


def resolve_days(args: argparse.Namespace, today: date) -> None:
    """Every `MonthDay` argparse left in `args` becomes the date it means today."""
    for name, value in vars(args).items():
        if isinstance(value, MonthDay):
            setattr(args, name, value.on_or_after(today))
        elif isinstance(value, list) and any(isinstance(v, MonthDay) for v in value):
            setattr(
                args, name, [v.on_or_after(today) if isinstance(v, MonthDay) else v for v in value]
            )
