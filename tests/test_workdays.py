"""The working-day calendar against chinesecalendar's real data (no mocks).

Dates are the ones an admin in a Chinese office would check by hand: the 2026 National Day
and Spring Festival breaks with their make-up working days (调休上班), and 2027, which
chinesecalendar 1.11.0 does not know yet.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from daemon.durations import Duration
from daemon.rules.workdays import (
    CalendarCoverageError,
    DayInfo,
    WorkCalendar,
    package_coverage,
    parse_overrides,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

# These tests use 2027 as "the year the package does not know yet". When a chinesecalendar
# release covers 2027 they must move to the next uncovered year, not silently pass.
needs_2027_uncovered = pytest.mark.skipif(
    package_coverage()[1] >= 2027,
    reason="chinesecalendar now covers 2027: move these tests to its first uncovered year",
)

# A hypothetical 2027 Spring Festival as an admin would type it into rules.toml.
OVERRIDES_2027 = {
    "2027-01-01": {"working": False, "note": "元旦"},
    "2027-02-07": {"working": True, "note": "调休上班"},
    "2027-02-08": "holiday",
    "2027-02-09": "holiday",
    "2027-02-10": "off",
    "2027-02-11": False,
    "2027-02-12": "holiday",
}


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz=SHANGHAI) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(SHANGHAI)


@pytest.fixture
def cal_2027() -> WorkCalendar:
    return WorkCalendar(SHANGHAI, overrides=parse_overrides(OVERRIDES_2027, "rules.toml"))


# --- what the package says, checked once so the concrete dates below are trustworthy -----


def test_package_data_for_2026_is_what_these_tests_assume():
    makeup_weekend_days = [
        day
        for day in chinese_calendar.get_dates(date(2026, 1, 1), date(2026, 12, 31))
        if day.weekday() >= 5 and chinese_calendar.is_workday(day)
    ]
    assert makeup_weekend_days == [
        date(2026, 1, 4),
        date(2026, 2, 14),  # Saturday before the Spring Festival
        date(2026, 2, 28),  # Saturday after it
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]
    national_day_off = [
        day
        for day in chinese_calendar.get_dates(date(2026, 9, 28), date(2026, 10, 11))
        if not chinese_calendar.is_workday(day)
    ]
    assert national_day_off == [date(2026, 10, d) for d in range(1, 8)] + [date(2026, 10, 11)]


def test_coverage_is_probed_from_the_package(cal):
    first, last = cal.coverage()
    assert first == 2004
    assert last >= 2026
    chinese_calendar.is_workday(date(last, 12, 31))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(last + 1, 1, 1))


# --- days ----------------------------------------------------------------------------------


def test_deadline_after_national_day_minus_two_working_days_is_30_september(cal):
    # 2026-10-09 (Fri) - 2wd: 10-08 is the 1st, 10-01..10-07 are off, 09-30 is the 2nd.
    assert cal.add_working_days(date(2026, 10, 9), -2) == date(2026, 9, 30)


def test_spring_festival_2026_makeup_saturdays_are_working_days(cal):
    assert cal.is_working_day(date(2026, 2, 14))  # Saturday
    assert cal.info(date(2026, 2, 14)).reason().startswith("调休上班（春节）")
    assert not cal.is_working_day(date(2026, 2, 16))  # Monday, 春节
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)  # Fri -> make-up Sat
    assert cal.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)  # over the break
    assert cal.add_working_days(date(2026, 2, 27), 1) == date(2026, 2, 28)  # Sat after it
    assert cal.add_working_days(date(2026, 2, 28), 1) == date(2026, 3, 2)


def test_day_reasons_are_in_the_readers_language_never_both(cal):
    assert cal.info(date(2026, 10, 1)) == DayInfo(
        date(2026, 10, 1), False, "国庆节（法定假日）", "National Day (holiday)", holiday="国庆节"
    )
    assert cal.info(date(2026, 10, 6)).reason("zh-CN") == "国庆节调休放假"
    assert cal.info(date(2026, 10, 6)).reason("en") == "National Day (day off in lieu)"
    makeup = cal.info(date(2026, 10, 10))
    assert makeup.reason() == "调休上班（国庆节）"
    assert makeup.reason("en") == "make-up working day (National Day)"
    assert cal.info(date(2026, 11, 21)).reason("zh-CN") == "周末"
    assert cal.info(date(2026, 11, 21)).reason("en") == "weekend"
    assert cal.info(date(2026, 11, 23)).reason("en") == "working day"
    assert cal.info(date(2026, 11, 21)).line("en") == "2026-11-21 Sat ✗ weekend"
    assert cal.info(date(2026, 11, 21)).line("zh-CN") == "2026-11-21 周六 ✗ 周末"


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 11, 23), 0, date(2026, 11, 23)),  # Monday stays Monday
        (date(2026, 11, 21), 0, date(2026, 11, 23)),  # Saturday moves to Monday
        (date(2026, 10, 3), 0, date(2026, 10, 8)),  # National Day moves to Thursday 10-08
        (date(2026, 11, 20), 1, date(2026, 11, 23)),  # Friday + 1 = Monday
        (date(2026, 11, 21), 1, date(2026, 11, 23)),  # Saturday + 1 = Monday
        (date(2026, 11, 23), 5, date(2026, 11, 30)),  # a week
        (date(2026, 9, 30), 2, date(2026, 10, 9)),
        (date(2026, 11, 23), -1, date(2026, 11, 20)),  # Monday - 1 = Friday
        (date(2026, 11, 22), -1, date(2026, 11, 20)),  # Sunday - 1 = Friday
        (date(2026, 2, 24), -1, date(2026, 2, 14)),  # back over the Spring Festival
    ],
)
def test_add_working_days(cal, start, n, expected):
    assert cal.add_working_days(start, n) == expected


def test_working_days_between(cal):
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 9)) == 2  # 10-08, 10-09
    assert cal.working_days_between(date(2026, 10, 9), date(2026, 9, 30)) == -2
    assert cal.working_days_between(date(2026, 11, 23), date(2026, 11, 23)) == 0
    # 02-14 (make-up Sat), 02-24..02-27, 02-28 (make-up Sat)
    assert cal.working_days_between(date(2026, 2, 13), date(2026, 2, 28)) == 6
    assert cal.add_working_days(date(2026, 2, 13), 6) == date(2026, 2, 28)


def test_overrides_win_over_the_package():
    cal = WorkCalendar(
        SHANGHAI,
        overrides={date(2026, 11, 27): (False, "公司年会"), date(2026, 10, 10): False},
    )
    assert cal.info(date(2026, 11, 27)).reason() == "管理员设定：公司年会"
    assert cal.add_working_days(date(2026, 11, 26), 1) == date(2026, 11, 30)
    assert cal.info(date(2026, 10, 10)).reason("en") == "set by the administrator: day off"
    assert cal.add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 12)


def test_explain_walks_the_national_day_break(cal):
    walk = cal.explain(date(2026, 10, 9), -2)
    assert [info.day for info in walk] == [date(2026, 10, 8)] + [
        date(2026, 10, d) for d in range(7, 0, -1)
    ] + [date(2026, 9, 30)]
    assert [info.working for info in walk] == [True] + [False] * 7 + [True]
    assert str(walk[0]) == "2026-10-08 周四 ✓ 工作日"
    assert str(walk[1]) == "2026-10-07 周三 ✗ 国庆节调休放假"
    assert walk[-1].day == cal.add_working_days(date(2026, 10, 9), -2)


def test_explain_zero_lists_the_start_day_then_walks_to_monday(cal):
    walk = cal.explain(date(2026, 11, 21), 0)
    assert [str(info) for info in walk] == [
        "2026-11-21 周六 ✗ 周末",
        "2026-11-22 周日 ✗ 周末",
        "2026-11-23 周一 ✓ 工作日",
    ]
    assert cal.explain(date(2026, 11, 23), 0) == [cal.info(date(2026, 11, 23))]


def test_explain_positive_reaches_the_makeup_saturday(cal):
    walk = cal.explain(date(2026, 2, 12), 2)
    assert [(info.day, info.working) for info in walk] == [
        (date(2026, 2, 13), True),
        (date(2026, 2, 14), True),
    ]


def test_datetimes_are_not_days(cal):
    with pytest.raises(TypeError, match="expected a date"):
        cal.is_working_day(at(2026, 11, 23, 9))


# --- years the package does not know ------------------------------------------------------


@needs_2027_uncovered
def test_2027_without_overrides_is_refused_with_instructions_when_asked_to():
    cal = WorkCalendar(SHANGHAI, fallback="refuse")
    assert cal.add_working_days(date(2026, 12, 30), 1) == date(2026, 12, 31)
    with pytest.raises(CalendarCoverageError) as caught:
        cal.add_working_days(date(2026, 12, 30), 2)
    assert caught.value.year == 2027
    message = str(caught.value)
    assert "2027-01-01" in message
    assert "[calendar.overrides]" in message
    assert "collabd calendar import NOTICE.txt --year 2027" in message
    assert 'fallback = "estimate"' in message
    assert "2004–2026" in message


@needs_2027_uncovered
def test_2027_by_default_is_estimated_from_the_statutory_holidays(cal):
    # 元旦 2027-01-01 is a Friday: off, as the law fixes it, then the weekend.
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    new_year = cal.info(date(2027, 1, 1))
    assert (new_year.working, new_year.estimated) == (False, True)
    assert new_year.reason().startswith("元旦（法定假日")
    assert "按预估假期计算" in new_year.reason()
    assert new_year.reason("en") == "New Year's Day (holiday, estimated)"
    # 春节: lunar new year's eve 2027-02-05 (Fri) to 02-10, computed from the lunar calendar.
    spring = [d for d in range(4, 13) if not cal.is_working_day(date(2027, 2, d))]
    assert spring == [5, 6, 7, 8, 9, 10]
    assert cal.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 11)
    # Make-up working days cannot be computed: every weekend is off, and says so.
    sunday = cal.info(date(2027, 2, 21))
    assert (sunday.working, sunday.estimated) == (False, True)
    assert "make-up working days unknown" in sunday.reason("en")
    # A published year is never estimated.
    assert not cal.info(date(2026, 2, 14)).estimated
    assert cal.basis(2026) == "package"
    assert cal.basis(2027) == "estimate"
    assert cal.estimated_years(date(2026, 12, 1), date(2027, 1, 4)) == [2027]
    assert cal.warnings == []


@needs_2027_uncovered
def test_2027_overrides_make_working_days_computable(cal_2027):
    # 元旦 on Friday 2027-01-01, then the weekend.
    assert cal_2027.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    # The make-up Sunday 2027-02-07 works, 02-08..02-12 are off.
    assert cal_2027.add_working_days(date(2027, 2, 5), 1) == date(2027, 2, 7)
    assert cal_2027.add_working_days(date(2027, 2, 7), 1) == date(2027, 2, 15)
    assert cal_2027.add_working_days(date(2027, 2, 15), -2) == date(2027, 2, 5)
    assert cal_2027.working_days_between(date(2027, 2, 5), date(2027, 2, 15)) == 2
    assert cal_2027.info(date(2027, 2, 7)).reason() == "管理员设定：调休上班"
    saturday = cal_2027.info(date(2027, 2, 13))
    assert saturday.reason() == "周末（2027年按管理员设定）"
    assert cal_2027.warnings == []


@needs_2027_uncovered
def test_fallback_weekdays_counts_monday_to_friday_and_warns_once_per_year():
    cal = WorkCalendar(SHANGHAI, fallback="weekdays")
    # Without data 元旦 2027-01-01 (Friday) counts as a working day: that is the price.
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert cal.add_working_days(date(2027, 1, 1), 1) == date(2027, 1, 4)
    assert cal.add_working_days(date(2027, 2, 5), 5) == date(2027, 2, 12)
    assert len(cal.warnings) == 1
    assert "2027" in cal.warnings[0]
    assert 'fallback = "weekdays"' in cal.warnings[0]
    assert not cal.info(date(2027, 1, 2)).estimated
    assert cal.info(date(2027, 1, 2)).reason("en").startswith("weekend (no holiday data for 2027")
    cal.is_working_day(date(2028, 3, 1))
    assert len(cal.warnings) == 2
    assert "2028" in cal.warnings[1]


@needs_2027_uncovered
def test_coverage_warnings_start_on_15_november(cal):
    assert cal.coverage_warnings(date(2026, 11, 14)) == []
    assert cal.coverage_warnings(date(2026, 6, 1)) == []
    (warning,) = cal.coverage_warnings(date(2026, 11, 15))
    assert "no official holiday schedule for 2027" in warning
    assert "working days in 2027 are estimated (按预估假期计算" in warning
    assert warning.endswith("run: collabd calendar import NOTICE.txt --year 2027")
    refusing = WorkCalendar(SHANGHAI, fallback="refuse")
    (today,) = refusing.coverage_warnings(date(2026, 11, 21))
    assert "refused" in today


@needs_2027_uncovered
def test_coverage_warnings_quiet_once_2027_has_overrides(cal_2027):
    assert cal_2027.coverage_warnings(date(2026, 11, 21)) == []


@needs_2027_uncovered
def test_coverage_warnings_when_the_current_year_is_uncovered(cal, cal_2027):
    (warning,) = cal.coverage_warnings(date(2027, 1, 4))
    assert "no official holiday schedule for 2027" in warning
    assert "estimated" in warning
    assert cal_2027.coverage_warnings(date(2027, 1, 4)) == []
    published = cal.with_published({date(2027, 1, 1): (False, "元旦")}, [2027])
    assert published.coverage_warnings(date(2027, 1, 4)) == []
    weekdays = WorkCalendar(SHANGHAI, fallback="weekdays")
    (warning,) = weekdays.coverage_warnings(date(2026, 11, 21))
    assert "Monday–Friday will count as working days in 2027" in warning


# --- overrides config ---------------------------------------------------------------------


def test_parse_overrides_accepts_the_documented_forms():
    parsed = parse_overrides(
        {
            "2027-01-01": "holiday",
            "2027-02-07": {"working": True, "note": "调休上班"},
            "2027-02-06": False,
            "2027-02-20": "Workday",
            "2027-02-21": True,
            "2027-02-22": "off",
            "2027-02-23": {"working": False},
        },
        "rules.toml",
    )
    assert parsed == {
        date(2027, 1, 1): (False, ""),
        date(2027, 2, 7): (True, "调休上班"),
        date(2027, 2, 6): (False, ""),
        date(2027, 2, 20): (True, ""),
        date(2027, 2, 21): (True, ""),
        date(2027, 2, 22): (False, ""),
        date(2027, 2, 23): (False, ""),
    }


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"2027-13-01": "holiday"},
            'rules.toml: calendar.overrides."2027-13-01" = "holiday": not a date (YYYY-MM-DD)',
        ),
        (
            {"2027-1-1": "holiday"},
            'rules.toml: calendar.overrides."2027-1-1" = "holiday": not a date (YYYY-MM-DD)',
        ),
        (
            {"2027-02-08": "maybe"},
            'rules.toml: calendar.overrides."2027-02-08" = "maybe": expected "holiday"',
        ),
        ({"2027-02-08": 1}, 'rules.toml: calendar.overrides."2027-02-08" = 1: expected'),
        (
            {"2027-02-08": {"working": "yes"}},
            'calendar.overrides."2027-02-08" = {working = "yes"}: needs working = true',
        ),
        (
            {"2027-02-08": {"working": True, "notes": "年会"}},
            "unknown key 'notes'",
        ),
        (
            {"2027-02-08": {"working": True, "note": 5}},
            "note must be a string",
        ),
    ],
)
def test_parse_overrides_errors_name_file_key_and_value(table, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_overrides(table, "rules.toml")


# --- working time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (at(2026, 11, 23, 9), True),
        (at(2026, 11, 23, 11, 59), True),
        (at(2026, 11, 23, 12), False),  # lunch
        (at(2026, 11, 23, 13, 30), True),
        (at(2026, 11, 23, 18), False),
        (at(2026, 11, 21, 10), False),  # Saturday
        (at(2026, 2, 14, 10), True),  # make-up Saturday
        (at(2026, 10, 1, 10), False),  # National Day
        (datetime(2026, 11, 23, 2, tzinfo=UTC), True),  # 10:00 in Shanghai
    ],
)
def test_is_working_time(cal, instant, expected):
    assert cal.is_working_time(instant) is expected


def test_next_working_time(cal):
    assert cal.next_working_time(at(2026, 11, 20, 20)) == at(2026, 11, 23, 9)  # Fri -> Mon
    assert cal.next_working_time(at(2026, 2, 13, 20)) == at(2026, 2, 14, 9)  # make-up Sat
    assert cal.next_working_time(at(2026, 9, 30, 20)) == at(2026, 10, 8, 9)  # National Day
    assert cal.next_working_time(at(2026, 11, 23, 12, 15)) == at(2026, 11, 23, 13, 30)
    assert cal.next_working_time(at(2026, 11, 23, 7)) == at(2026, 11, 23, 9)
    inside = at(2026, 11, 23, 10, 42)
    assert cal.next_working_time(inside) is inside


def test_next_working_time_answers_in_the_callers_timezone(cal):
    result = cal.next_working_time(datetime(2026, 11, 20, 12, tzinfo=UTC))  # Fri 20:00 local
    assert result == datetime(2026, 11, 23, 1, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_working_hours_across_lunch(cal):
    assert cal.add(at(2026, 11, 23, 11), Duration.parse("2wh")) == at(2026, 11, 23, 14, 30)


def test_working_hours_across_a_weekend(cal):
    assert cal.add(at(2026, 11, 20, 16), Duration.parse("4wh")) == at(2026, 11, 23, 11)
    assert cal.add(at(2026, 11, 20, 14), Duration.parse("4wh")) == at(2026, 11, 20, 18)
    assert cal.add(at(2026, 11, 21, 10), Duration.parse("1wh")) == at(2026, 11, 23, 10)


def test_working_hours_over_the_spring_festival_makeup_saturday(cal):
    assert cal.add(at(2026, 2, 13, 17), Duration.parse("2wh")) == at(2026, 2, 14, 10)
    # 1h on Friday, 3h + 4.5h on the make-up Saturday, the last hour on Tuesday 02-24.
    assert cal.add(at(2026, 2, 13, 17), Duration.parse("9.5wh")) == at(2026, 2, 24, 10)


def test_working_days_keep_the_time_of_day(cal):
    assert cal.add(at(2026, 9, 30, 15), Duration.parse("2wd")) == at(2026, 10, 9, 15)
    assert cal.add(at(2026, 11, 20, 20), Duration.parse("1wd")) == at(2026, 11, 23, 20)
    with pytest.raises(ValueError, match="whole"):
        cal.add(at(2026, 11, 20, 20), Duration.parse("1.5wd"))


def test_wall_clock_units(cal):
    assert cal.add(at(2026, 11, 20, 20), Duration.parse("1w")) == at(2026, 11, 27, 20)
    assert cal.add(at(2026, 11, 20, 20), Duration.parse("30m")) == at(2026, 11, 20, 20, 30)
    assert cal.add(at(2026, 11, 20, 20), Duration.parse("1.5d")) == at(2026, 11, 22, 8)


def test_days_are_calendar_days_across_dst_but_hours_are_elapsed():
    berlin = WorkCalendar(BERLIN)
    # Clocks go forward in Berlin on Sunday 2026-03-29.
    saturday_morning = at(2026, 3, 28, 9, tz=BERLIN)
    assert berlin.add(saturday_morning, Duration.parse("1d")) == at(2026, 3, 29, 9, tz=BERLIN)
    assert berlin.add(saturday_morning, Duration.parse("24h")) == at(2026, 3, 29, 10, tz=BERLIN)


def test_naive_datetimes_are_refused(cal):
    with pytest.raises(ValueError, match="aware"):
        cal.is_working_time(datetime(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="aware"):
        cal.add(datetime(2026, 11, 23, 10), Duration.parse("1h"))


def test_custom_and_invalid_work_hours():
    short = WorkCalendar(SHANGHAI, work_hours=[(time(10), time(16))])
    assert short.add(at(2026, 11, 20, 15), Duration.parse("2wh")) == at(2026, 11, 23, 11)
    with pytest.raises(ValueError, match="overlaps"):
        WorkCalendar(SHANGHAI, work_hours=[(time(9), time(12)), (time(11), time(18))])
    with pytest.raises(ValueError, match="ends before"):
        WorkCalendar(SHANGHAI, work_hours=[(time(18), time(9))])
    with pytest.raises(ValueError, match="empty"):
        WorkCalendar(SHANGHAI, work_hours=[])
