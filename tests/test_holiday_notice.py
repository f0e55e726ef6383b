"""Reading the State Council's holiday notices: the real texts for 2024, 2025 and 2026
(tests/holiday_notices/, as published, simplified and traditional, full- and half-width
punctuation) against chinesecalendar's data for those years, day by day."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from daemon.rules.notice import MAX_CHARS, NoticeError, read_notice

NOTICES = Path(__file__).parent / "holiday_notices"


def _year(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("name", "year", "off", "worked"),
    [
        ("2024.txt", 2024, 28, 8),
        ("2025.txt", 2025, 28, 5),
        ("2025-traditional.txt", 2025, 28, 5),
        ("2026.txt", 2026, 33, 6),
    ],
)
def test_every_day_of_the_year_matches_chinesecalendar(name, year, off, worked):
    notice = read_notice((NOTICES / name).read_text(encoding="utf-8"))
    assert notice.year == year
    assert (len(notice.days_off), len(notice.working)) == (off, worked)
    days = notice.days()
    wrong = [
        day
        for day in _year(year)
        if days.get(day, (day.weekday() < 5, ""))[0] != chinese_calendar.is_workday(day)
    ]
    assert wrong == []


def test_names_and_make_up_days_read_like_the_notice():
    notice = read_notice((NOTICES / "2026.txt").read_text(encoding="utf-8"))
    assert notice.holidays == ["元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"]
    assert notice.days_off[date(2026, 2, 15)] == "春节"
    # 9月20日 is listed under 国庆节 in the notice, so it pays for National Day.
    assert notice.days()[date(2026, 9, 20)] == (True, "国庆节 调休上班")
    assert notice.days()[date(2026, 10, 10)] == (True, "国庆节 调休上班")


def test_traditional_notice_reads_as_the_simplified_one():
    simplified = read_notice((NOTICES / "2025.txt").read_text(encoding="utf-8"))
    traditional = read_notice((NOTICES / "2025-traditional.txt").read_text(encoding="utf-8"))
    assert traditional.days() == simplified.days()
    assert traditional.holidays[-1] == "国庆节、中秋节"


def test_the_2024_encouragement_to_rest_on_new_years_eve_is_not_a_holiday():
    notice = read_notice((NOTICES / "2024.txt").read_text(encoding="utf-8"))
    assert date(2024, 2, 9) not in notice.days()  # "鼓励……安排职工在除夕（2月9日）休息"
    assert chinese_calendar.is_workday(date(2024, 2, 9))


def test_a_notice_saved_as_a_web_page_reads_the_same():
    text = (NOTICES / "2026.txt").read_text(encoding="utf-8")
    page = "<html><body>" + "".join(
        f'<p style="text-indent:2em">{line}</p>\n' for line in text.splitlines() if line
    )
    page = page.replace("至", "&#33267;") + "</body></html>"
    assert read_notice(page).days() == read_notice(text).days()


def test_the_year_comes_from_the_title_or_year_and_must_agree():
    text = (NOTICES / "2026.txt").read_text(encoding="utf-8")
    assert read_notice(text, 2026).year == 2026
    with pytest.raises(NoticeError, match="--year 2025, but the notice is about 2026"):
        read_notice(text, 2025)
    items = text[text.index("一、元旦") :]
    items = items.replace("2026年", "")
    with pytest.raises(NoticeError, match="add --year YYYY"):
        read_notice(items)
    # The weekdays written beside the dates catch a wrong year.
    with pytest.raises(NoticeError, match=r"2025-01-01 is a 周三.*another year"):
        read_notice(items, 2025)
    assert read_notice(items, 2026).days() == read_notice(text).days()


def test_a_break_over_new_year_names_its_years():
    # As the 2023 notice wrote it: "2022年12月31日至2023年1月2日放假调休，共3天。"
    notice = read_notice("一、元旦：2022年12月31日至2023年1月2日放假调休，共3天。", 2023)
    assert sorted(notice.days_off) == [date(2022, 12, 31), date(2023, 1, 1), date(2023, 1, 2)]
    assert all(not chinese_calendar.is_workday(day) for day in notice.days_off)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("各省、自治区、直辖市人民政府：节日快乐。", "found no holidays"),
        ("一、春节：2月30日放假。", "not a date in 2026"),
        ("一、春节：2月20日至2月10日放假。", "not a holiday break"),
        ("一、春节：15日至17日放假。", "has no month"),
    ],
)
def test_texts_that_are_not_a_schedule_are_refused_with_the_reason(text, message):
    with pytest.raises(NoticeError, match=message):
        read_notice(text, 2026)


@pytest.mark.parametrize(
    "piece",
    ["一", "1", "(", "<", "一二三、", "1月", "12日(", "二、元旦:", "\n \n", "放假", "(周"],
)
def test_hostile_input_of_the_largest_size_is_read_or_refused(piece):
    # Every pattern is bounded, so this returns at once; a backtracking pattern would hang
    # here (bench/notice_parser.py measures the time per character as the input grows).
    text = (piece * (MAX_CHARS // len(piece) + 1))[:MAX_CHARS]
    with pytest.raises(NoticeError):
        read_notice(text, 2026)
    with pytest.raises(NoticeError, match="at most"):
        read_notice(text + "x", 2026)


def test_the_fixtures_are_the_real_notices():
    # The fixtures are the published texts, not something shaped to pass: each names the
    # office and the date it was signed.
    for name, signed in [
        ("2024.txt", "2023年10月25日"),
        ("2025.txt", "2024年11月12日"),
        ("2026.txt", "2025年11月4日"),
    ]:
        text = (NOTICES / name).read_text(encoding="utf-8")
        assert re.search(r"国务院办公厅\s*\n\s*" + signed, text), name
