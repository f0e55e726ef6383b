"""The working-day calendar reminder and escalation rules compute with.

collabd's users are Chinese offices, so a "working day" follows the statutory calendar:
public holidays are off, and the make-up weekend days (调休上班) that pay for long holidays
ARE working days. The data comes from the `chinesecalendar` package, which only knows the
years the State Council has already published; the notice of a newer year is imported with
`collabd calendar import` (kept in the ledger), and admins can correct anything as
overrides in `[calendar.overrides]`.

Where a day's status comes from, first match wins:

1. an admin override for that date;
2. a State Council notice imported for that date (`published`);
3. the package's data, when it covers the year;
4. Monday–Friday, when a notice was imported or overrides were entered for that year (they
   are taken to be that year's holidays and make-up days);
5. the fallback for a year nobody has published: by default (`"estimate"`) weekends plus
   the statutory holidays computed for that year (estimate.py), every such day marked
   `estimated` so the decisions built on it say so; `"weekdays"` counts Monday–Friday with
   a warning; `"refuse"` raises `CalendarCoverageError`.

Counting rules (the daemon's "2wd before the deadline" depends on them):

* `add_working_days(d, n)`, n > 0: the n-th working day strictly after d.
* `add_working_days(d, n)`, n < 0: the |n|-th working day strictly before d.
* `add_working_days(d, 0)`: d if it is a working day, else the next working day.
* `working_days_between(start, end)`: working days in (start, end]; negative if end < start.

The module is pure (no database, no clock, no network) and caches each day's status, so
rules can call it thousands of times per tick.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from typing import Literal

import chinese_calendar

from daemon.durations import Duration

from .estimate import estimated_holidays

log = logging.getLogger(__name__)

OVERRIDES_TABLE = "calendar.overrides"
DEFAULT_WORK_HOURS: tuple[tuple[time, time], ...] = (
    (time(9), time(12)),
    (time(13, 30), time(18)),
)
ONE_DAY = timedelta(days=1)
_NO_OVERRIDES: Mapping[date, bool | tuple[bool, str]] = MappingProxyType({})
_WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
Fallback = Literal["estimate", "refuse", "weekdays"]
FALLBACKS: tuple[str, ...] = ("estimate", "refuse", "weekdays")
# What a decision built on an estimated day says, in the mail too (people read it).
ESTIMATED = "按预估假期计算"
ESTIMATED_EN = "estimated holidays: the official schedule is not published yet"


def fix_command(year: int) -> str:
    """The one command that replaces `year`'s estimate with the official schedule."""
    return f"collabd calendar import NOTICE.txt --year {year}"


# Years to ask the package about. Wide on purpose: a newer chinesecalendar extends coverage
# without a code change here.
_PROBE_YEARS = range(1949, 2200)


class CalendarCoverageError(Exception):
    """A working-day question about a year nobody has told us the holidays of."""

    def __init__(self, year: int, message: str) -> None:
        super().__init__(message)
        self.year = year


@dataclass(frozen=True)
class DayInfo:
    """One day's status and, for people reading `explain` output, why: in Chinese and in
    English, each reader getting one (`reason(locale)`), never the two run together."""

    day: date
    working: bool
    zh: str
    en: str = ""
    estimated: bool = False  # from the fallback estimate, not a published schedule
    holiday: str = ""  # the holiday's Chinese name (国庆节) on a day off for a holiday
    overridden: bool = False  # set by the administrator ([calendar.overrides])

    def reason(self, locale: str = "zh-CN") -> str:
        return self.en if str(locale).startswith("en") and self.en else self.zh

    def line(self, locale: str = "zh-CN") -> str:
        """`2026-10-01 周四 ✗ 国庆节（法定假日）`, or the English line for an `en` reader."""
        mark = "✓" if self.working else "✗"
        en = str(locale).startswith("en")
        weekday = (_WEEKDAYS_EN if en else _WEEKDAYS_ZH)[self.day.weekday()]
        return f"{self.day.isoformat()} {weekday} {mark} {self.reason(locale)}"

    def __str__(self) -> str:
        return self.line()


# --- the package -------------------------------------------------------------------------


@functools.cache
def package_coverage() -> tuple[int, int]:
    """First and last year chinesecalendar has data for, found by asking it.

    Probed rather than hard-coded so that upgrading the package is all it takes to extend
    coverage. The package covers a contiguous range of years.
    """
    covered = [year for year in _PROBE_YEARS if _package_knows(year)]
    if not covered:
        raise RuntimeError(f"chinesecalendar {_package_version()} answers for no year at all")
    return covered[0], covered[-1]


def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 7, 1))
    except NotImplementedError:
        return False
    return True


def _package_version() -> str:
    return getattr(chinese_calendar, "__version__", "(unknown version)")


def _zh(english: str) -> str:
    """'National Day' -> '国庆节' (unknown names pass through)."""
    try:
        return chinese_calendar.Holiday(english).chinese
    except ValueError:
        return english


def _statutory_info(day: date) -> DayInfo:
    """The package's verdict on one day; NotImplementedError if it lacks the year."""
    is_holiday, name = chinese_calendar.get_holiday_detail(day)
    if not is_holiday:
        if name is not None and day.weekday() >= 5:
            return DayInfo(day, True, f"调休上班（{_zh(name)}）", f"make-up working day ({name})")
        return DayInfo(day, True, "工作日", "working day")
    if name is None:
        return DayInfo(day, False, "周末", "weekend")
    if chinese_calendar.is_in_lieu(day):
        return DayInfo(
            day, False, f"{_zh(name)}调休放假", f"{name} (day off in lieu)", holiday=_zh(name)
        )
    return DayInfo(day, False, f"{_zh(name)}（法定假日）", f"{name} (holiday)", holiday=_zh(name))


def _weekday_info(day: date, zh: str, en: str) -> DayInfo:
    if day.weekday() >= 5:
        return DayInfo(day, False, f"周末（{zh}）", f"weekend ({en})")
    return DayInfo(day, True, f"工作日（{zh}）", f"working day ({en})")


def _estimated_info(day: date) -> DayInfo:
    """Weekends and the statutory holidays computed for the year; make-up days unknown."""
    name = estimated_holidays(day.year).get(day)
    if name is not None:  # "春节 Chinese New Year (Spring Festival)"
        zh, _, en = name.partition(" ")
        return DayInfo(
            day,
            False,
            f"{zh}（法定假日，{ESTIMATED}）",
            f"{en or zh} (holiday, estimated)",
            True,
            holiday=zh,
        )
    if day.weekday() >= 5:
        return DayInfo(
            day,
            False,
            f"周末（{ESTIMATED}；调休上班日未知）",
            "weekend (estimated; make-up working days unknown)",
            True,
        )
    return DayInfo(day, True, f"工作日（{ESTIMATED}）", "working day (estimated)", True)


def _published_info(day: date, working: bool, note: str) -> DayInfo:
    if working:
        return DayInfo(
            day,
            True,
            f"调休上班（{note}，国务院通知）",
            f"make-up working day ({note}, State Council notice)",
        )
    return DayInfo(
        day,
        False,
        f"{note}（国务院通知）",
        f"{note} (holiday, State Council notice)",
        holiday=note,
    )


def _override_info(day: date, working: bool, note: str) -> DayInfo:
    holiday = note if not working else ""
    zh = note or ("上班" if working else "休息")
    en = note or ("working day" if working else "day off")
    return DayInfo(
        day,
        working,
        f"管理员设定：{zh}",
        f"set by the administrator: {en}",
        holiday=holiday,
        overridden=True,
    )


# --- config ------------------------------------------------------------------------------

_DATE_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OFF_WORDS = {"holiday", "off"}
_WORKING_WORDS = {"working", "workday"}
_EXPECTED = (
    'expected "holiday", "off", false, "working", "workday", true, '
    'or a table {working = true/false, note = "…"}'
)


def parse_overrides(table: Mapping[str, object], source: str) -> dict[date, tuple[bool, str]]:
    """Read `[calendar.overrides]` into {date: (working, note)} for `WorkCalendar`.

    Accepts `"2027-01-01" = "holiday"`, `= false`, `= "working"`, `= true`, or
    `= {working = true, note = "调休上班"}`. Errors name the file, key and value so an admin
    can find the line; the note is "" when none was given.
    """
    if not isinstance(table, Mapping):
        raise ValueError(f"{source}: {OVERRIDES_TABLE} = {_render(table)}: expected a table")
    return {
        _parse_override_date(key, value, source): _parse_override_value(key, value, source)
        for key, value in table.items()
    }


def _parse_override_date(key: object, value: object, source: str) -> date:
    text = str(key)
    if _DATE_KEY.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise _override_error(key, value, source, "not a date (YYYY-MM-DD)")


def _parse_override_value(key: object, value: object, source: str) -> tuple[bool, str]:
    if isinstance(value, bool):
        return value, ""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _OFF_WORDS:
            return False, ""
        if word in _WORKING_WORDS:
            return True, ""
        raise _override_error(key, value, source, _EXPECTED)
    if isinstance(value, Mapping):
        return _parse_override_table(key, value, source)
    raise _override_error(key, value, source, _EXPECTED)


def _parse_override_table(
    key: object, value: Mapping[str, object], source: str
) -> tuple[bool, str]:
    unknown = sorted(set(value) - {"working", "note"})
    if unknown:
        raise _override_error(
            key, value, source, f"unknown key {unknown[0]!r}; only working and note are allowed"
        )
    working = value.get("working")
    if not isinstance(working, bool):
        raise _override_error(key, value, source, "needs working = true or working = false")
    note = value.get("note", "")
    if not isinstance(note, str):
        raise _override_error(key, value, source, "note must be a string")
    return working, note.strip()


def _override_error(key: object, value: object, source: str, problem: str) -> ValueError:
    return ValueError(f'{source}: {OVERRIDES_TABLE}."{key}" = {_render(value)}: {problem}')


def _render(value: object) -> str:
    """A value the way the admin wrote it in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_render(v)}" for k, v in value.items()) + "}"
    return repr(value)


# --- the calendar ------------------------------------------------------------------------


class WorkCalendar:
    """Working days and working hours in one timezone, for one set of overrides.

    Immutable after construction apart from its caches and `warnings`, which collects the
    fallback warnings (one per year) for the daemon to log or show.
    """

    def __init__(
        self,
        timezone: tzinfo,
        *,
        overrides: Mapping[date, bool | tuple[bool, str]] = _NO_OVERRIDES,
        published: Mapping[date, bool | tuple[bool, str]] = _NO_OVERRIDES,
        published_years: Iterable[int] | None = None,
        work_hours: Sequence[tuple[time, time]] = DEFAULT_WORK_HOURS,
        fallback: Fallback = "estimate",
    ) -> None:
        if fallback not in FALLBACKS:
            raise ValueError(
                f'fallback = {fallback!r}: expected "estimate", "refuse" or "weekdays"'
            )
        self.timezone = timezone
        self.fallback = fallback
        self.work_hours = _check_work_hours(work_hours)
        self.warnings: list[str] = []
        self._overrides = _normalise_overrides(overrides)
        self._published = _normalise_overrides(published)
        self._override_years = frozenset(day.year for day in self._overrides)
        # The years notices were imported for (a notice may name a day of the next year).
        self._published_years = frozenset(
            published_years
            if published_years is not None
            else (day.year for day in self._published)
        )
        self._infos: dict[date, DayInfo] = {}
        self._fallback_years: set[int] = set()

    # -- days --

    def info(self, day: date) -> DayInfo:
        """The status of `day` and why (overrides, then the package, then the fallback)."""
        cached = self._infos.get(day)
        if cached is None:
            _require_date(day)
            cached = self._infos[day] = self._compute_info(day)
        return cached

    def is_working_day(self, day: date) -> bool:
        return self.info(day).working

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after (n > 0) or before (n < 0) `day`, not counting `day`.

        n = 0 means "day if it is a working day, else the next one", so a deadline that
        falls on a holiday moves to the next working day.
        """
        result = day
        for info in self._walk(day, n):
            result = info.day
        return result

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start.

        For a working day `end` after `start`, add_working_days(start, result) == end.
        """
        if end < start:
            return -self.working_days_between(end, start)
        span = (end - start).days
        return sum(self.is_working_day(start + timedelta(days=k)) for k in range(1, span + 1))

    def explain(self, day: date, n: int) -> list[DayInfo]:
        """Every day add_working_days(day, n) looks at, in walking order, result last.

        `day` itself is listed only for n = 0, the one case where its own status matters.
        """
        return list(self._walk(day, n))

    def _walk(self, day: date, n: int) -> Iterator[DayInfo]:
        n = operator.index(n)  # a float like 2.5 would never count down to zero
        if n == 0:
            first = self.info(day)
            yield first
            if first.working:
                return
            n = 1
        step = ONE_DAY if n > 0 else -ONE_DAY
        remaining = abs(n)
        current = day
        while remaining:
            current += step
            info = self.info(current)
            yield info
            if info.working:
                remaining -= 1

    def with_published(
        self, published: Mapping[date, tuple[bool, str]], years: Iterable[int]
    ) -> WorkCalendar:
        """The same calendar with the days of the notices imported for `years`."""
        return WorkCalendar(
            self.timezone,
            overrides=self._overrides,
            published=published,
            published_years=years,
            work_hours=self.work_hours,
            fallback=self.fallback,  # type: ignore[arg-type]
        )

    @property
    def published(self) -> Mapping[date, tuple[bool, str]]:
        return MappingProxyType(self._published)

    @property
    def published_years(self) -> frozenset[int]:
        return self._published_years

    @property
    def estimated_seen(self) -> frozenset[int]:
        """The years an estimated day was looked at so far: rules ran on an estimate."""
        return frozenset(day.year for day, info in self._infos.items() if info.estimated)

    def _compute_info(self, day: date) -> DayInfo:
        override = self._overrides.get(day)
        if override is not None:
            return _override_info(day, *override)
        published = self._published.get(day)
        if published is not None:
            return _published_info(day, *published)
        try:
            return _statutory_info(day)
        except NotImplementedError:
            pass
        if day.year in self._published_years:
            return _weekday_info(
                day, f"{day.year}年按国务院通知", f"{day.year} per the imported notice"
            )
        if day.year in self._override_years:
            return _weekday_info(
                day, f"{day.year}年按管理员设定", f"{day.year} per the administrator's overrides"
            )
        if self.fallback == "estimate":
            return _estimated_info(day)
        if self.fallback == "weekdays":
            self._warn_fallback(day.year)
            return _weekday_info(
                day,
                f"{day.year}年无节假日数据，按周一至周五上班计",
                f"no holiday data for {day.year}, Mon–Fri assumed",
            )
        raise CalendarCoverageError(day.year, self._refusal(day))

    def _refusal(self, day: date) -> str:
        first, last = self.coverage()
        return (
            f"cannot tell whether {day.isoformat()} is a working day: chinesecalendar "
            f"{_package_version()} has holiday data for {first}–{last} only, and there is no "
            f"imported notice and no [{OVERRIDES_TABLE}] for {day.year} "
            f'(fallback = "refuse"). Run: {fix_command(day.year)} once the State Council has '
            f"published it, add the dates under [{OVERRIDES_TABLE}] "
            f'(e.g. "{day.year}-01-01" = "holiday"), or set fallback = "estimate".'
        )

    def _warn_fallback(self, year: int) -> None:
        if year in self._fallback_years:
            return
        self._fallback_years.add(year)
        message = (
            f"{year}: chinesecalendar {_package_version()} has no holiday data and "
            f"[{OVERRIDES_TABLE}] has no {year} dates, so Monday–Friday count as working days "
            f'(fallback = "weekdays"); public holidays and make-up working days in {year} are '
            f"ignored until you run: {fix_command(year)}"
        )
        self.warnings.append(message)
        log.warning("%s", message)

    # -- coverage --

    def coverage(self) -> tuple[int, int]:
        """First and last year the installed chinesecalendar has data for."""
        return package_coverage()

    def basis(self, year: int) -> str:
        """Where `year`'s days come from: "notice" (imported), "package", "overrides", or,
        for a year nobody published, the fallback ("estimate", "weekdays", "refuse")."""
        first, last = self.coverage()
        if year in self._published_years:
            return "notice"
        if first <= year <= last:
            return "package"
        if year in self._override_years:
            return "overrides"
        return self.fallback

    def estimated_years(self, start: date, end: date) -> list[int]:
        """The years from `start` to `end` (either order) whose days are estimated."""
        low, high = sorted((start.year, end.year))
        return [year for year in range(low, high + 1) if self.basis(year) == "estimate"]

    def coverage_warnings(self, today: date) -> list[str]:
        """What an admin should hear about missing holiday data, as of `today`.

        The State Council publishes next year's schedule around November, so from
        15 November on we also speak about next year until its schedule is known.
        """
        years = [today.year]
        if (today.month, today.day) >= (11, 15):
            years.append(today.year + 1)
        return [
            self.uncovered_warning(year)
            for year in years
            if self.basis(year) in ("estimate", "weekdays", "refuse")
        ]

    def uncovered_warning(self, year: int) -> str:
        """One line for the log, `status` and `rules check`: what happens, and the fix."""
        first, last = self.coverage()
        consequence = {
            "estimate": (
                f"working days in {year} are estimated ({ESTIMATED}: weekends and the "
                "statutory holidays computed for the year; make-up working days unknown)"
            ),
            "weekdays": f"Monday–Friday will count as working days in {year}, holidays ignored",
            "refuse": f"working-day rules reaching into {year} will be refused",
        }[self.fallback]
        return (
            f"no official holiday schedule for {year} (chinesecalendar {_package_version()} "
            f"has holiday data for {first}–{last}; no imported notice or "
            f"[{OVERRIDES_TABLE}] dates for {year}): {consequence}. Once "
            f"《国务院办公厅关于{year}年部分节假日安排的通知》 is published, "
            f"save its text and run: {fix_command(year)}"
        )

    # -- instants --

    def is_working_time(self, instant: datetime) -> bool:
        """Inside a work period of a working day, in the calendar's timezone.

        Periods include their start and exclude their end: 12:00 is lunch, 18:00 is home.
        """
        local = self._local(instant)
        return self._period_of(local) is not None and self.is_working_day(local.date())

    def next_working_time(self, instant: datetime) -> datetime:
        """`instant` if it is working time, else the start of the next work period.

        The result is in `instant`'s timezone.
        """
        local = self._local(instant)
        if self._period_of(local) is not None and self.is_working_day(local.date()):
            return instant
        return self._next_period_start(local).astimezone(instant.tzinfo)

    def add(self, instant: datetime, duration: Duration) -> datetime:
        """`instant` + `duration`, returned in `instant`'s timezone.

        * s, m, h: elapsed time (an hour is an hour across a DST change);
        * d, w: calendar days in the calendar's timezone, keeping the local time of day
          (a fractional remainder is added as elapsed time);
        * wd: the same local time of day on the working day `add_working_days` gives;
          the result may be outside working hours (e.g. Friday 20:00 + 1wd = Monday 20:00);
        * wh: working hours consumed period by period from next_working_time(instant);
          a total that ends exactly at a period's end stays there (Friday 18:00, not Monday).
        """
        self._local(instant)  # rejects naive datetimes for every unit
        if duration.unit in ("s", "m", "h"):
            result = instant.astimezone(UTC) + duration.as_timedelta()
        elif duration.unit in ("d", "w"):
            result = self._add_calendar_days(instant, duration.as_timedelta() / ONE_DAY)
        elif duration.unit == "wd":
            result = self._add_working_days_at(instant, duration)
        elif duration.unit == "wh":
            result = self._add_working_hours(instant, duration)
        else:
            raise ValueError(f"{duration}: unknown unit {duration.unit!r}")
        return result.astimezone(instant.tzinfo)

    def _add_calendar_days(self, instant: datetime, days: float) -> datetime:
        local = self._local(instant)
        whole = int(days)
        moved = self._at(local.date() + timedelta(days=whole), local.time())
        return moved.astimezone(UTC) + timedelta(days=days - whole)

    def _add_working_days_at(self, instant: datetime, duration: Duration) -> datetime:
        if not duration.amount.is_integer():
            raise ValueError(f"{duration}: working days must be whole; use wh for part of a day")
        local = self._local(instant)
        return self._at(self.add_working_days(local.date(), int(duration.amount)), local.time())

    def _add_working_hours(self, instant: datetime, duration: Duration) -> datetime:
        if duration.amount < 0:
            raise ValueError(f"{duration}: working hours can only be added, not subtracted")
        remaining = timedelta(hours=duration.amount)
        cursor = self.next_working_time(instant).astimezone(UTC)
        while True:
            period_end = self._period_end(self._local(cursor))
            available = period_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = self._next_period_start(self._local(period_end)).astimezone(UTC)

    def _period_of(self, local: datetime) -> tuple[time, time] | None:
        now = local.time()
        for start, end in self.work_hours:
            if start <= now < end:
                return start, end
        return None

    def _period_end(self, local: datetime) -> datetime:
        """End of the work period `local` (known to be working time) is in, as UTC."""
        period = self._period_of(local)
        assert period is not None, f"{local} is not working time"
        return self._at(local.date(), period[1]).astimezone(UTC)

    def _next_period_start(self, local: datetime) -> datetime:
        """Start of the first work period beginning after `local`, on a working day."""
        day = local.date()
        if self.is_working_day(day):
            for start, _ in self.work_hours:
                if local.time() < start:
                    return self._at(day, start)
        return self._at(self.add_working_days(day, 1), self.work_hours[0][0])

    def _at(self, day: date, clock: time) -> datetime:
        """`day` at local `clock`, normalised through UTC so a DST gap time becomes real."""
        return datetime.combine(day, clock, self.timezone).astimezone(UTC).astimezone(self.timezone)

    def _local(self, instant: datetime) -> datetime:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"{instant} has no timezone; working time needs an aware datetime")
        return instant.astimezone(self.timezone)


def _require_date(day: object) -> None:
    """Refuse datetimes: their .date() depends on the timezone, which we would get wrong."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(
            f"expected a date, got {day!r}; for an instant use is_working_time or "
            "convert it to the calendar's timezone first"
        )


def _normalise_overrides(
    overrides: Mapping[date, bool | tuple[bool, str]],
) -> dict[date, tuple[bool, str]]:
    normalised = {}
    for day, value in overrides.items():
        _require_date(day)
        working, note = (value, "") if isinstance(value, bool) else value
        normalised[day] = (bool(working), note or "")
    return normalised


def _check_work_hours(periods: Sequence[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    """Work periods must be non-empty, in order, within one day and not overlapping."""
    checked = tuple((start, end) for start, end in periods)
    if not checked:
        raise ValueError("work_hours is empty: there would be no working time at all")
    previous_end = time.min
    for start, end in checked:
        if not start < end:
            raise ValueError(f"work period {start}–{end} ends before it starts")
        if start < previous_end:
            raise ValueError(f"work period {start}–{end} overlaps or precedes the one before")
        previous_end = end
    return checked
