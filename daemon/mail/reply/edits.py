"""The coordinator's commands in a reply: changing items after the start.

A grammar piece of its own beside ``grammar`` (status updates): its lines are taken out
of the text before the status grammar reads it, so ``#3 取消：原因`` is never mistaken
for a misspelled status. Whole lines, on NFKC-folded text, case-insensitive::

    #3 转交 王强 | #3 转交给 王强 | #3 reassign to Wang Qiang      → new owner
    #3 负责人：王强 | #3 owner: wang.qiang@example.com             → new owner
    #3 截止 12月20日[，原因：…] | #3 deadline Dec 20[, reason: …]  → new deadline
    #3 取消：原因 | #3 cancel: reason                              → cancelled
    #5 依赖 #2[、#4] | #5 depends on #2, #4                        → waits for #2 (#4)
    新增：任务 … 负责人 … 截止 … [协作人 …] [优先级 …] [完成标准 …]  → a new item
    add: task … owner … deadline …

Every pattern is anchored and uses bounded repetition over a single line: no
backtracking beyond the line's length (mail is untrusted input).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from .dates import match_date
from .normalize import Folded

# Possessive blanks (*+): a line of spaces after "#3" is read once, never re-split.
_ITEM = r"^\s*+(?:[-*•·]\s*+)?#\s*+0*(?P<item>\d{1,6})(?!\d)\s*+[:.,、]?\s*+"
_REASSIGN = re.compile(
    _ITEM + r"(?:转交给?|轉交給?|移交给?|移交給?|交给|交給|reassign(?:ed)?(?:\s+to)?|"
    r"hand(?:ed)?\s+over\s+to)\s*:?\s*(?P<rest>.+)$",
    re.I,
)
_OWNER = re.compile(
    _ITEM + r"(?:负责人|負責人|owner)\s*+(?::|改为|改為|为|為|is)\s*(?P<rest>.+)$", re.I
)
_DEADLINE = re.compile(
    _ITEM + r"(?:截止日期|截止时间|截止|deadline|due(?:\s+date)?)\s*"
    r"(?:改为|改為|改到|调整为|調整為|为|為|to|:)?\s*",
    re.I,
)
_CANCEL = re.compile(
    _ITEM + r"(?:取消|作废|作廢|cancel(?:l?ed)?)(?![a-z])\s*(?:[:,\-—]\s*(?P<reason>.*))?$", re.I
)
_DEPENDS = re.compile(
    _ITEM + r"(?:依赖|依賴|depends?\s+on|waits?\s+for)\s*:?\s*(?P<rest>.+)$",
    re.I,
)
_DEPENDENCY_LIST = re.compile(r"#\s*0*(?P<n>\d{1,6})(?!\d)")
_DEPENDENCY_GLUE = re.compile(r"[\s,、和及与與&]|and", re.I)
_ADD = re.compile(r"^\s*(?:新增|新建|增加|add(?:\s+item)?)\s*:\s*(?P<rest>.+)$", re.I)
# Labels of a new item's fields, as in the minutes table (任务 / 负责人 / 协作人 / 完成标准 /
# 截止日期 / 所需支持 / 优先级) and in English.
_FIELD_WORDS = {
    "description": ("任务描述", "任务", "任務", "task"),
    "owner": ("负责人", "負責人", "owner"),
    "collaborators": ("协作人", "協作人", "collaborators", "collaborator"),
    "deadline": ("截止日期", "截止", "deadline", "due"),
    "priority": ("优先级", "優先級", "priority"),
    "done_criteria": ("完成标准", "完成標準", "done when", "criteria"),
    "support": ("所需支持", "support"),
    "depends_on": ("依赖", "依賴", "depends on"),
}
_FIELD_LOOKUP = {w.lower(): name for name, words in _FIELD_WORDS.items() for w in words}
_FIELD = re.compile(
    r"(?:^|(?<=[\s,;:，；、]))(?P<label>"
    + "|".join(sorted(map(re.escape, _FIELD_LOOKUP), key=len, reverse=True))
    + r")\s*:?\s*",
    re.I,
)
_REASON = re.compile(r"[\s,;]*(?:(?:原因|理由|reason|because)\s*:?\s*)?", re.I)
_PERSON_END = re.compile(r"[,;。(]|(?<!\s)\s++(?:原因|理由|reason)", re.I)
_TRAILING = "。.!！;；,，、 "


@dataclass(frozen=True)
class EditCommand:
    """One coordinator command: ``action`` is reassign, deadline, cancel, depends or add."""

    action: str
    item: int | None  # None for a new item
    person: str | None = None  # the new owner, as typed
    due: datetime.date | None = None
    reason: str | None = None
    depends_on: tuple[int, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)  # a new item's fields, as typed
    bad_date: str | None = None  # a deadline that is not a date ("下周")
    line: str = ""


def parse(text: str, ref: datetime.date) -> tuple[list[EditCommand], str]:
    """The edit commands in ``text``, and the text without their lines (for the status
    grammar)."""
    found: list[EditCommand] = []
    kept: list[str] = []
    for raw in text.split("\n"):
        line = Folded(raw)
        command = _read(line, ref) if line.text.strip() else None
        if command is None:
            kept.append(raw)
        else:
            found.append(command)
    return found, "\n".join(kept)


def _read(line: Folded, ref: datetime.date) -> EditCommand | None:
    text = line.text.rstrip()
    raw = line.raw.strip()
    for pattern in (_REASSIGN, _OWNER):
        m = pattern.match(text)
        if m:
            who, reason = _person_and_reason(line, m.start("rest"), len(text))
            if who:
                return EditCommand("reassign", int(m["item"]), person=who, reason=reason, line=raw)
    m = _CANCEL.match(text)
    if m:
        reason = _clean(line, m.start("reason"), len(text)) if m["reason"] is not None else None
        return EditCommand("cancel", int(m["item"]), reason=reason or None, line=raw)
    m = _DEPENDS.match(text)
    if m:
        numbers = _dependency_numbers(m["rest"])
        if numbers is not None:
            return EditCommand("depends", int(m["item"]), depends_on=numbers, line=raw)
    m = _DEADLINE.match(text)
    if m:
        found = match_date(text, m.end(), ref)
        if found is None:
            rest = _clean(line, m.end(), len(text))
            return EditCommand("deadline", int(m["item"]), bad_date=rest or "", line=raw)
        due, end = found
        reason = _REASON.match(text, end)
        note = _clean(line, reason.end(), len(text)) if reason else None
        return EditCommand("deadline", int(m["item"]), due=due, reason=note or None, line=raw)
    m = _ADD.match(text)
    if m:
        fields = _fields(line, m.start("rest"), len(text))
        if fields:
            return EditCommand("add", None, fields=fields, line=raw)
    return None


def _clean(line: Folded, start: int, end: int) -> str:
    while end > start and line.text[end - 1] in _TRAILING:
        end -= 1
    while start < end and line.text[start] in _TRAILING + ":":
        start += 1
    return line.raw_slice(start, end).strip() if start < end else ""


def _person_and_reason(line: Folded, start: int, end: int) -> tuple[str, str | None]:
    """`王强，原因：赵敏休假` → (王强, 赵敏休假)."""
    stop = _PERSON_END.search(line.text, start, end)
    cut = stop.start() if stop else end
    who = _clean(line, start, cut)
    reason = None
    if stop:
        label = _REASON.match(line.text, stop.start())
        reason = _clean(line, label.end() if label else stop.end(), end) or None
    return who, reason


def _dependency_numbers(rest: str) -> tuple[int, ...] | None:
    """`#2、#4` / `#2 and #4` → (2, 4); anything else on the line: not this command."""
    numbers = [int(m["n"]) for m in _DEPENDENCY_LIST.finditer(rest)]
    leftover = _DEPENDENCY_GLUE.sub("", _DEPENDENCY_LIST.sub("", rest)).strip(_TRAILING)
    if not numbers or leftover:
        return None
    return tuple(numbers)


def _fields(line: Folded, start: int, end: int) -> dict[str, str]:
    """`任务 整理话术 负责人 王强 截止 12月3日` → {description, owner, deadline}."""
    labels = list(_FIELD.finditer(line.text, start, end))
    fields: dict[str, str] = {}
    if not labels:
        return fields
    head = _clean(line, start, labels[0].start())
    if head:  # `新增：整理话术 负责人 王强`: the task needs no label
        fields["description"] = head
    for here, after in zip(labels, [*labels[1:], None], strict=True):
        name = _FIELD_LOOKUP[here["label"].lower()]
        value = _clean(line, here.end(), after.start() if after else end)
        if value and name not in fields:
            fields[name] = value
    return fields
