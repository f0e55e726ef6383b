"""Reading the State Council's holiday notice (《国务院办公厅关于YYYY年部分节假日安排的通知》).

Each year's notice is a numbered list, one holiday per item, for example (2026):

    一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
    二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。
        2月14日（周六）、2月28日（周六）上班。

and older notices write "1月1日放假，与周末连休" or "2月10日至17日放假调休" without the
weekdays. Inside an item, a sentence with 放假 names the days off (a range "A至B", or one
day) and a sentence ending in 上班 lists the make-up working days; every other sentence
(the 2024 notice's "鼓励……安排职工在除夕（2月9日）休息", the preamble, the closing
paragraph and the date it was signed) names no schedule and is ignored.

Admins paste the text from a web page: simplified or traditional characters, full-width or
half-width punctuation and digits (NFKC folds them), HTML tags or not. A weekday written
beside a date ("（周四）", "（星期日）") must match the date in the notice's year, which
catches a wrong `--year`.

Every pattern has bounded repetition and the text is walked once, so reading is linear in
the length of the input, whatever it is (the file is pasted by people, from the web).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

MAX_CHARS = 200_000  # a notice is about 1,000 characters; a web page saved whole, more
_NUMERALS = "一二三四五六七八九十"
# "三、清明节：" — an item header. The numeral run and the name are bounded, and the
# lookbehind stops "二十八、" inside "（农历腊月二十八、周日）" from counting twice.
_HEADER = re.compile(rf"(?<![{_NUMERALS}])[{_NUMERALS}]{{1,3}}、([\u4e00-\u9fff、]{{1,16}})[:：]")
_DATE = re.compile(r"(?<!\d)(?:(\d{4})年)?(?:(\d{1,2})月)?(\d{1,2})日")
_WEEKDAY = re.compile(r"\((?:[^()]{0,20}?)(?:周|星期)([一二三四五六日天])")
_YEAR = (
    re.compile(r"(?:关于|關於|關于|将|將)(\d{4})年"),
    re.compile(r"(\d{4})年(?:部分)?(?:节|節)假日安排"),
)
_TAG = re.compile(r"<[^<>]{0,2000}>")
_RANGE_WORDS = ("至", "到", "-", "~", "—", "–")
_WEEKDAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
# Traditional forms of the characters in holiday names, so a traditional notice's
# names read like the simplified ones (国庆节, not 國慶節) in the ledger and the mails.
_SIMPLIFIED = str.maketrans("節勞動國慶陽", "节劳动国庆阳")


class NoticeError(ValueError):
    """The text is not a holiday notice collabd can read, and why."""


@dataclass
class Notice:
    """What one notice says: {day: holiday name} off, {day: holiday name} worked."""

    year: int
    days_off: dict[date, str] = field(default_factory=dict)
    working: dict[date, str] = field(default_factory=dict)
    holidays: list[str] = field(default_factory=list)  # names in the notice's order
    # Parts that look like schedule but were not understood, quoted for the admin: an
    # item without a day off, a dated sentence saying neither 放假 nor 上班, a holiday the
    # preamble names without an item of its own.
    unread: list[str] = field(default_factory=list)

    def days(self) -> dict[date, tuple[bool, str]]:
        """{day: (working, note)}: the overrides this notice amounts to."""
        found = {day: (False, name) for day, name in self.days_off.items()}
        found.update({day: (True, f"{name} 调休上班") for day, name in self.working.items()})
        return dict(sorted(found.items()))


def read_notice(text: str, year: int | None = None) -> Notice:
    """The schedule in `text`; `year` when the text does not say (or to check it)."""
    if len(text) > MAX_CHARS:
        raise NoticeError(
            f"{len(text)} characters is not a holiday notice (at most {MAX_CHARS}); "
            "save only the notice's text"
        )
    text = _normalise(text)
    year = _notice_year(text, year)
    notice = Notice(year)
    headers = list(_HEADER.finditer(text))
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        body = text[header.end() : end].split("\n\n", 1)[0]
        name = header[1].translate(_SIMPLIFIED)
        _read_item(notice, name, body)
    _check_preamble(notice, text[: headers[0].start()] if headers else text)
    if not notice.days_off:
        raise NoticeError(
            "found no holidays: expected numbered items like "
            "“一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。”"
        )
    return notice


def _normalise(text: str) -> str:
    if "<" in text:  # saved from the web page
        text = html.unescape(_TAG.sub("\n", text))
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Paragraphs: a line of blanks (a web page's indentation) is a blank line.
    return re.sub(r"\n[ \t\u3000]*(?=\n)", "\n", text)


def _notice_year(text: str, given: int | None) -> int:
    found = None
    for pattern in _YEAR:
        match = pattern.search(text)
        if match:
            found = int(match[1])
            break
    if given is not None and found is not None and given != found:
        raise NoticeError(f"--year {given}, but the notice is about {found}")
    if given is None and found is None:
        raise NoticeError("the text does not say which year it is about: add --year YYYY")
    year = given if given is not None else found
    assert year is not None
    if not 1949 < year < 2200:
        raise NoticeError(f"{year} is not a year a holiday notice can be about")
    return year


def _read_item(notice: Notice, name: str, body: str) -> None:
    notice.holidays.append(name)
    found_off = False
    for sentence in re.split(r"[。;；\n]", body):
        if "上班" in sentence:
            for day in _dates(sentence, notice.year):
                notice.working[day] = name
        elif "放假" in sentence:
            head = sentence.split("放假", 1)[0]
            for day in _days_off(head, notice.year):
                notice.days_off[day] = name
                found_off = True
        elif _DATE.search(sentence) and not any(word in sentence for word in _ADVICE):
            notice.unread.append(f"{name}: “{_quote(sentence)}”")
    if not found_off and not any(part.startswith(f"{name}: ") for part in notice.unread):
        notice.unread.append(f"{name}: no days off found in “{_quote(body)}”")


# Sentences that name a date without setting the schedule: the 2024 notice's "鼓励……安排
# 职工在除夕（2月9日）休息" (encouraged, not decreed).
_ADVICE = ("鼓励", "鼓勵", "倡导", "倡導")
# "现将2026年元旦、春节、……和国庆节放假调休日期的具体安排通知如下": the holidays to expect.
_PREAMBLE = re.compile(r"(?:现将|現將)\d{4}年([^。]{1,80}?)(?:放假|假期)")


def _check_preamble(notice: Notice, preamble: str) -> None:
    """A holiday the preamble announces but no item describes was not understood."""
    match = _PREAMBLE.search(preamble)
    if not match:
        return
    named = [n.translate(_SIMPLIFIED) for n in re.split(r"[、，,和及与與]", match[1]) if n]
    # "六、国庆节、中秋节：" — one item for two holidays that fall together.
    covered = {part for item in notice.holidays for part in item.split("、")}
    for name in named:
        if name not in covered:
            notice.unread.append(f"{name}: named at the top of the notice, but no item for it")


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _days_off(text: str, year: int) -> list[date]:
    """The days a 放假 clause names: "A至B" is every day from A to B, "A、B" each one."""
    matches = list(_DATE.finditer(text))
    days = _resolve(matches, text, year)
    found: list[date] = []
    index = 0
    while index < len(days):
        start = days[index]
        joined = index + 1 < len(days) and any(
            word in text[matches[index].end() : matches[index + 1].start()] for word in _RANGE_WORDS
        )
        if not joined:
            found.append(start)
            index += 1
            continue
        end = days[index + 1]
        if end < start or (end - start).days > 40:
            raise NoticeError(f"{start} to {end} is not a holiday break")
        found += [start + timedelta(days=n) for n in range((end - start).days + 1)]
        index += 2
    return found


def _dates(text: str, year: int) -> list[date]:
    return _resolve(list(_DATE.finditer(text)), text, year)


def _resolve(matches: list[re.Match], text: str, year: int) -> list[date]:
    """Dates written as "2月15日" … "23日": a missing month or year is the one before it;
    a December date before a January one is in the year before (and the other way)."""
    days: list[date] = []
    month = None
    current_year = year
    for match in matches:
        explicit_year, month_text, day_text = match.groups()
        if explicit_year:
            current_year = int(explicit_year)
        if month_text:
            new_month = int(month_text)
            if not explicit_year and month is not None and new_month < month:
                current_year += 1  # "12月31日至1月2日"
            month = new_month
        if month is None:
            raise NoticeError(f"“{match[0]}” has no month")
        try:
            day = date(current_year, month, int(day_text))
        except ValueError:
            raise NoticeError(f"“{match[0]}” is not a date in {current_year}") from None
        _check_weekday(day, text, match)
        days.append(day)
    return days


def _check_weekday(day: date, text: str, match: re.Match) -> None:
    written = _WEEKDAY.match(text, match.end())
    if written and _WEEKDAY_INDEX[written[1]] != day.weekday():
        actual = "周" + "一二三四五六日"[day.weekday()]
        raise NoticeError(
            f"“{match[0]}{text[match.end() : written.end()]}”: {day} is a {actual}, "
            "so the notice is about another year (check --year)"
        )
