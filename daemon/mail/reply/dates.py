"""Dates people type after 延期/postpone, resolved to ``datetime.date``.

Accepted (on NFKC-folded text): ``2026-12-05``, ``2026/12/5``, ``2026.12.5``,
``2026年12月5日``, ``12月5日``/``12月5号``, ``12/5``, ``12-05``,
``Dec 5``, ``5 Dec``, ``December 5, 2026``. A date without a year is the next
occurrence on or after the reference date (the mail's Date header).
Impossible dates (``2月30日``) are reported as not-a-date so the caller keeps
the text as a note instead of inventing a deadline.
"""

from __future__ import annotations

import datetime
import re

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))

# The blank before 日/号 belongs to the date only when 日/号 follows: in "2026-12-05 等待设计"
# the reason starts after the blank, and a status update must not swallow it.
_YMD = re.compile(
    r"(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})(?:\s*(?:日|号|號))?"
)
_MD_CJK = re.compile(r"(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})(?:\s*(?:日|号|號))?")
_MD_NUMERIC = re.compile(r"(?P<m>\d{1,2})[/-](?P<d>\d{1,2})(?![\d/-])")
_MONTH_DAY = re.compile(
    rf"(?P<mon>{_MONTH_NAME})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?\b", re.I
)
_DAY_MONTH = re.compile(
    rf"(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon>{_MONTH_NAME})\.?(?:,?\s+(?P<y>\d{{4}}))?\b", re.I
)


def _resolve(year: int | None, month: int, day: int, ref: datetime.date) -> datetime.date | None:
    try:
        if year is not None:
            return datetime.date(year, month, day)
        candidate = datetime.date(ref.year, month, day)
        if candidate < ref:
            candidate = datetime.date(ref.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def match_date(text: str, pos: int, ref: datetime.date) -> tuple[datetime.date, int] | None:
    """Parse a date starting exactly at ``text[pos]``; return it and its end."""
    for pattern in (_YMD, _MD_CJK, _MONTH_DAY, _DAY_MONTH, _MD_NUMERIC):
        m = pattern.match(text, pos)
        if not m:
            continue
        groups = m.groupdict()
        month = _MONTHS[groups["mon"].lower()] if groups.get("mon") else int(groups["m"])
        year = int(groups["y"]) if groups.get("y") else None
        found = _resolve(year, month, int(groups["d"]), ref)
        if found is None:
            return None
        return found, m.end()
    return None
