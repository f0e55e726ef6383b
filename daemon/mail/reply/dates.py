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

from ...clock import plausible_day

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
            found = datetime.date(year, month, day)
            return found if plausible_day(found) else None
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


# ---------------------------------------------------------------------------
# Relative dates: "下周五", "月底", "next Friday", "end of month". A period without a day
# ("下周", "月底", "next week") means its last working day: the date returned is the
# period's last calendar day and ``end_of`` is true, and the caller, who has the
# working-day calendar, steps back to a working day.
# ---------------------------------------------------------------------------
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 4}
_EN_WEEKDAY = {
    name: number
    for number, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}
_EN_DAY_NAME = "|".join(sorted(_EN_WEEKDAY, key=len, reverse=True))
_WEEK_WORD = r"(?:周|週|星期|礼拜|禮拜)"
_ZH_WEEK = re.compile(
    rf"(?P<which>下下|下|本|这|這|这个|這個|下个|下個)?\s*{_WEEK_WORD}(?P<day>[一二三四五六日天末])?"
)
_ZH_WORDS = {
    "明天": 1, "明日": 1, "后天": 2, "後天": 2,
}  # fmt: skip
_ZH_DAY = re.compile(r"明天|明日|后天|後天")
_ZH_MONTH_END = re.compile(
    r"(?:(?P<next>下个?月|下個?月)|本月|这个月|這個月|月)\s*(?:底|末)|(?P<year>年底|年末)"
)
_EN_REL = re.compile(
    rf"(?:the\s+)?(?:(?P<tomorrow>tomorrow)"
    rf"|(?:end\s+of\s+(?:the\s+)?(?P<eo>(?:next\s+|this\s+)?(?:week|month|year)))"
    rf"|(?P<eom>month[\s-]?end|eom)"
    rf"|(?:(?P<which>next|this|coming)\s+)?(?P<day>{_EN_DAY_NAME})\b\.?"
    rf"|(?P<period>next\s+(?:week|month))"
    rf")(?![a-z])",
    re.I,
)


def _week_start(day: datetime.date, weeks: int) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday()) + datetime.timedelta(weeks=weeks)


def _month_end(day: datetime.date, months: int) -> datetime.date:
    year, month = divmod(day.month - 1 + months + 1, 12)
    return datetime.date(day.year + year, month + 1, 1) - datetime.timedelta(days=1)


def _weekday(ref: datetime.date, weekday: int, weeks: int | None) -> datetime.date:
    """The `weekday` of the week `weeks` from now; None: the next one after today."""
    if weeks is None:
        ahead = (weekday - ref.weekday()) % 7
        return ref + datetime.timedelta(days=ahead or 7)
    return _week_start(ref, weeks) + datetime.timedelta(days=weekday)


def match_relative(
    text: str, pos: int, ref: datetime.date
) -> tuple[datetime.date, int, bool] | None:
    """A relative date at ``text[pos]``: (date, end, end_of). ``end_of``: the date is the
    last day of a period and means its last working day."""
    m = _ZH_DAY.match(text, pos)
    if m:
        return ref + datetime.timedelta(days=_ZH_WORDS[m.group()]), m.end(), False
    m = _ZH_WEEK.match(text, pos)
    if m and (m.group("which") or m.group("day")):
        which = m.group("which") or ""
        weeks = 2 if which == "下下" else 1 if which.startswith("下") else 0
        day = m.group("day")
        if day is None or day == "末":
            # "下周" / "周末": by the end of that (working) week
            return _week_start(ref, weeks) + datetime.timedelta(days=4), m.end(), True
        explicit = weeks if which else None
        return _weekday(ref, _ZH_WEEKDAY[day], explicit), m.end(), False
    m = _ZH_MONTH_END.match(text, pos)
    if m:
        if m.group("year"):
            return datetime.date(ref.year, 12, 31), m.end(), True
        return _month_end(ref, 1 if m.group("next") else 0), m.end(), True
    m = _EN_REL.match(text, pos)
    if not m:
        return None
    if m.group("tomorrow"):
        return ref + datetime.timedelta(days=1), m.end(), False
    period = (m.group("eo") or m.group("period") or "").lower().split()
    if m.group("eom"):
        period = ["month"]
    if period:
        later = 1 if period[0] == "next" else 0
        if period[-1] == "week":
            return _week_start(ref, later) + datetime.timedelta(days=4), m.end(), True
        if period[-1] == "month":
            return _month_end(ref, later), m.end(), True
        return datetime.date(ref.year, 12, 31), m.end(), True
    weekday = _EN_WEEKDAY[m.group("day").lower()]
    explicit = 1 if (m.group("which") or "").lower() == "next" else None
    return _weekday(ref, weekday, explicit), m.end(), False
