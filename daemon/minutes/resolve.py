"""From a `Sheet` (text as written) to minutes collabd can publish: owners and collaborators
matched to people, deadlines to dates, priorities to the ledger's words.

All or nothing: `resolve()` returns complete minutes or raises `MinutesProblems` listing every
problem, line by line, so the recorder fixes them in one go and nothing half-read is published.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from ..errors import DataError, NotFound
from ..ledger.people import find_person
from ..ledger.specs import PRIORITY_WORDS
from ..mail.reply.dates import match_date
from ..store.models import Collaboration, Person, Priority
from .sheet import TEXT_SECTIONS, Problem, Sheet, SheetRow, placeholder


class MinutesProblems(DataError):
    """The minutes cannot be published as written; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            f"the minutes were not published ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n" + "\n".join(f"  {p}" for p in problems)
        )


@dataclass(frozen=True)
class MinutesRow:
    """One action item, resolved."""

    position: int
    description: str
    owner: Person
    collaborators: tuple[Person, ...]
    done_criteria: str
    deadline: date
    support: str
    priority: Priority


@dataclass(frozen=True)
class ResolvedMinutes:
    discussion: str
    decisions: str
    next_steps: str
    next_meeting: str
    rows: tuple[MinutesRow, ...]


_LIST_SPLIT = re.compile(r"[、,，;；/／]|\s+和\s*|\s+and\s+")
_NONE_WORDS = {"", "无", "暂无", "没有", "不需要", "none", "n/a", "na", "-", "—", "/"}
MAX_DATE_CHARS = 80  # "2026年12月5日（周六）之前" and the like, with room to spare
_DATE_TAIL = re.compile(r"\s*(?:[(（][^)）]*[)）]|之前|以前|前|before)\s*$", re.I)


def resolve(
    session: Session, sheet: Sheet, collaboration: Collaboration, meeting_day: date
) -> ResolvedMinutes:
    problems = list(sheet.problems)
    rows: list[MinutesRow] = []
    for row in sheet.rows:
        if placeholder(row):
            continue
        resolved = _row(session, row, collaboration, meeting_day, len(rows) + 1, problems)
        if resolved is not None:
            rows.append(resolved)
    if problems:
        raise MinutesProblems(problems)
    text = {key: _none_if_empty(sheet.sections.get(key, "")) for key in TEXT_SECTIONS}
    return ResolvedMinutes(**text, rows=tuple(rows))


def _none_if_empty(text: str) -> str:
    return "" if text.strip().casefold() in _NONE_WORDS else text.strip()


def _row(
    session: Session,
    row: SheetRow,
    collaboration: Collaboration,
    meeting_day: date,
    position: int,
    problems: list[Problem],
) -> MinutesRow | None:
    found = len(problems)

    def problem(zh: str, en: str) -> None:
        problems.append(Problem(row.where, row.text, zh, en))

    description = row.fields.get("description", "").strip()
    if not description:
        problem("缺少“任务”", "the task (任务) is missing")
    owner_text = row.fields.get("owner", "").strip()
    owner = None
    if not owner_text:
        problem("缺少“负责人”", "the owner (负责人) is missing")
    else:
        owner = _person(session, owner_text, collaboration, "负责人", "owner", problem)
    collaborators: list[Person] = []
    for name in _names(row.fields.get("collaborators", "")):
        person = _person(session, name, collaboration, "协作人", "collaborator", problem)
        if person is not None and person not in collaborators:
            collaborators.append(person)
    deadline = None
    deadline_text = row.fields.get("deadline", "").strip()
    if not deadline_text:
        problem("缺少“截止日期”（例：12月5日 或 2026-12-05）", "the deadline (截止日期) is missing")
    else:
        deadline = read_date(deadline_text, meeting_day)
        if deadline is None:
            problem(
                f"无法识别截止日期“{deadline_text}”（例：12月5日 或 2026-12-05）",
                f"cannot read the deadline {deadline_text!r} (write 12月5日 or 2026-12-05)",
            )
    priority = _priority(row.fields.get("priority", ""))
    if priority is None:
        problem(
            f"无法识别优先级“{row.fields['priority']}”（可用：高 / 中 / 低）",
            f"unknown priority {row.fields['priority']!r} (high / normal / low)",
        )
    if len(problems) > found:
        return None
    assert owner is not None and deadline is not None and priority is not None
    return MinutesRow(
        position=position,
        description=description,
        owner=owner,
        collaborators=tuple(c for c in collaborators if c.id != owner.id),
        done_criteria=_none_if_empty(row.fields.get("done_criteria", "")),
        deadline=deadline,
        support=_none_if_empty(row.fields.get("support", "")),
        priority=priority,
    )


def _names(text: str) -> list[str]:
    if text.strip().casefold() in _NONE_WORDS:
        return []
    return [part.strip() for part in _LIST_SPLIT.split(text) if part.strip()]


def _person(session, text, collaboration, role_zh, role_en, problem) -> Person | None:
    """Name, mail address or department (its contact here); "市场部 李娜" and "李娜（市场部）"
    work too, by trying the parts."""
    candidates = [text]
    bare = re.sub(r"[(（][^)）]*[)）]", "", text).strip()
    if bare and bare != text:
        candidates.append(bare)
    parts = [p for p in re.split(r"[\s/／·\-—]+", bare) if p]
    if len(parts) > 1:
        candidates += reversed(parts)
    first_error: Exception | None = None
    for candidate in candidates:
        try:
            return find_person(session, candidate, collaboration)
        except (NotFound, DataError) as exc:
            first_error = first_error or exc
    if isinstance(first_error, DataError) and "people are named" in str(first_error):
        problem(
            f"{role_zh}“{text}”有重名，请写邮箱",
            f"{role_en} {text!r}: {first_error}",
        )
    else:
        problem(
            f"{role_zh}“{text}”不是已知的人员，也不是本协作的部门（可写姓名、邮箱或部门）",
            f"{role_en} {text!r} is not a known person, address or department of this "
            "collaboration",
        )
    return None


def read_date(text: str, reference: date) -> date | None:
    """ISO, 2026年12月5日, 12月5日, 12/5, Dec 5: a date without a year is the next one on or
    after `reference` (the meeting day). None if the whole text is not one date."""
    value = unicodedata.normalize("NFKC", text).strip()
    if len(value) > MAX_DATE_CHARS:  # no date is this long; _DATE_TAIL is not linear in it
        return None
    value = _DATE_TAIL.sub("", value).strip()
    found = match_date(value, 0, reference)
    if found is None or found[1] != len(value):
        return None
    return found[0]


def _priority(text: str) -> Priority | None:
    value = text.strip()
    if not value:
        return Priority.NORMAL
    try:
        return Priority(PRIORITY_WORDS.get(value, value.lower()))
    except ValueError:
        return None
