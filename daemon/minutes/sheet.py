"""Reading filled-in minutes (会议纪要) into a `Sheet`: sections and action-item rows, still
as the recorder wrote them (names and dates are resolved later, in resolve.py).

One shape, three spellings, all following the seed minutes form (会议基本信息 / 参会人员 /
会议议程与讨论内容 / 共识事项 / 行动项清单 / 下一步计划 / 下次会议):

* plain text, as in the request mail: headings `【共识事项】`, one action item per line,
  `1. 任务：…；负责人：…；截止日期：12月5日；…` (the seed's own way of writing them);
* Markdown: headings `## 共识事项`, action items as a table or as the same lines;
* TOML: keys `discussion`, `decisions`, `next_steps`, `next_meeting`, `[[items]]`.

A reply from Outlook arrives as HTML; `reply_text()` turns its tables into Markdown rows
before the quote stripper runs, so the same reader applies. Nothing here raises on bad
input: every problem is collected with the line it is on.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from email.message import Message

from ..mail.reply import decode, quotes
from ..mail.reply.html2text import CUT_MARK, html_to_text
from ..mail.reply.normalize import fold


@dataclass(frozen=True)
class Problem:
    """Something the recorder must fix, where it is, in both languages."""

    where: str  # "line 23", "items[2].owner"
    text: str  # the line as written ("" when there is no single line)
    zh: str
    en: str

    def message(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh

    def place(self, locale: str) -> str:
        """Where, as the recorder reads it: 第23行 / line 23 / items[2].owner."""
        if self.where.startswith("line ") and locale != "en":
            return f"第{self.where.removeprefix('line ')}行"
        return self.where

    def __str__(self) -> str:
        shown = f" {self.text.strip()!r}:" if self.text.strip() else ""
        return f"{self.where}:{shown} {self.en}"


@dataclass
class SheetRow:
    """One action item as written: canonical field name -> text."""

    where: str
    text: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Sheet:
    sections: dict[str, str] = field(default_factory=dict)  # section key -> text
    rows: list[SheetRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# Section names people write (the seed's, short forms, English), after folding.
SECTIONS: dict[str, tuple[str, ...]] = {
    "basic": ("会议基本信息", "基本信息", "basic info", "basic information", "meeting"),
    "attendees": ("参会人员", "参会人员(部门+姓名)", "与会人员", "attendees", "participants"),
    "discussion": (
        "会议议程与讨论内容",
        "议程与讨论内容",
        "议程与讨论",
        "讨论内容",
        "讨论要点",
        "agenda and discussion",
        "discussion",
    ),
    "decisions": ("共识事项", "决议事项", "会议决议", "decisions", "agreed"),
    "items": ("行动项清单", "行动项", "待办事项", "action items", "actions"),
    "next_steps": ("下一步计划", "下一步", "next steps"),
    "next_meeting": ("下次会议", "下次会议时间", "next meeting"),
}
FIELDS: dict[str, tuple[str, ...]] = {
    "description": ("任务", "任务描述", "任务名称", "行动项", "task", "action", "description"),
    "owner": ("负责人", "责任人", "责任部门/人", "责任部门", "owner", "responsible"),
    "collaborators": ("协作人", "协助人", "配合人", "collaborators", "collaborator"),
    "done_criteria": ("完成标准", "交付标准", "验收标准", "done when", "done criteria"),
    "deadline": ("截止日期", "截止时间", "完成时限", "deadline", "due"),
    "support": ("所需支持", "支持", "资源支持", "support", "support needed"),
    "priority": ("优先级", "priority"),
}
FIELD_NAMES_ZH = {
    "description": "任务",
    "owner": "负责人",
    "collaborators": "协作人",
    "done_criteria": "完成标准",
    "deadline": "截止日期",
    "support": "所需支持",
    "priority": "优先级",
}
TEXT_SECTIONS = ("discussion", "decisions", "next_steps", "next_meeting")
NUMBER_COLUMNS = ("#", "序号", "编号", "no", "no.")


def _key(text: str) -> str:
    return re.sub(r"[\s*_]+", " ", fold(text)).strip().casefold().replace("（", "(")


_SECTION_BY_NAME = {_key(name): key for key, names in SECTIONS.items() for name in names}
_FIELD_BY_NAME = {_key(name): key for key, names in FIELDS.items() for name in names}
_FIELD_BY_NAME |= {key: key for key in FIELDS}  # TOML may use the canonical names

HINT = "※"  # template lines that explain, never content
_HEADING_DECOR = re.compile(
    r"^(?:#{1,6}\s*)?(?:[一二三四五六七八九十]+[、.]|\d+[.、)]\s)?\s*[【\[]?(?P<name>[^】\]]+?)[】\]]?"
    r"\s*[:：]?\s*$"
)
_LIST_MARKER = re.compile(r"^\s*(?:[-*•·]|\d{1,3}\s*[.、)）]|[（(]\d{1,3}[)）])\s*")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$")


def section_of(line: str) -> str | None:
    """The section a heading line opens, or None if the line is not a heading."""
    stripped = line.strip()
    if not stripped or len(stripped) > 40:
        return None
    match = _HEADING_DECOR.match(stripped)
    if not match:
        return None
    return _SECTION_BY_NAME.get(_key(match["name"]))


def read_text(text: str) -> Sheet:
    """Plain text or Markdown (the request mail's form, a reply, a .md file)."""
    sheet = Sheet()
    collected: dict[str, list[str]] = {}
    item_lines: list[tuple[int, str]] = []
    current: str | None = None
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        heading = section_of(line)
        if heading:
            current = heading
            collected.setdefault(heading, [])
            continue
        if line.strip().startswith(HINT) or current is None:
            continue  # a hint, or a greeting above the first heading
        if current == "items":
            item_lines.append((number, line))
        else:
            collected[current].append(line)
    if not collected:
        sheet.problems.append(
            Problem(
                "text",
                "",
                "没有找到纪要的栏目：请保留【会议议程与讨论内容】【共识事项】【行动项清单】等标题",
                "no minutes sections found: keep the headings (【共识事项】, 【行动项清单】 …)",
            )
        )
        return sheet
    sheet.sections = {key: quotes.tidy(lines) for key, lines in collected.items()}
    _read_item_lines(item_lines, sheet)
    return sheet


def _read_item_lines(lines: list[tuple[int, str]], sheet: Sheet) -> None:
    header: list[str | None] | None = None
    row: SheetRow | None = None
    for number, line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        where = f"line {number}"
        if stripped.startswith("|") or (header is not None and "|" in stripped):
            row = None
            if _TABLE_SEPARATOR.match(stripped):
                continue
            cells = [cell.strip() for cell in stripped.strip("|").split("|")]
            if header is None:
                header = [_column(cell) for cell in cells]
                unknown = [c for c, k in zip(cells, header, strict=True) if k == "?"]
                if unknown:
                    sheet.problems.append(_unknown_columns(where, line, unknown))
                    header = [None if k == "?" else k for k in header]
                continue
            fields = {key: cell for key, cell in zip(header, cells, strict=False) if key and cell}
            if len(cells) > len(header):
                sheet.problems.append(
                    Problem(
                        where,
                        line,
                        f"这一行有 {len(cells)} 列，表头只有 {len(header)} 列",
                        f"{len(cells)} cells, but the header has {len(header)} columns",
                    )
                )
            sheet.rows.append(SheetRow(where, line, fields))
            continue
        starts_item = bool(_LIST_MARKER.match(line))
        body = _LIST_MARKER.sub("", line, count=1) if starts_item else stripped
        fields, problems = _pairs(body, where, line)
        sheet.problems += problems
        if not fields and not problems:
            continue
        if row is None or starts_item or "description" in fields or (set(fields) & set(row.fields)):
            row = SheetRow(where, line, {})
            sheet.rows.append(row)
        elif row.text != line:  # a continuation line of the same item
            row.text = f"{row.text}\n{line}"
        row.fields.update(fields)


def placeholder(row: SheetRow) -> bool:
    """An empty row of the form (only a default priority, say): not an action item."""
    return not any(row.fields.get(k, "").strip() for k in ("description", "owner", "deadline"))


def _column(cell: str) -> str | None:
    key = _key(cell)
    if key in NUMBER_COLUMNS or not key:
        return None
    return _FIELD_BY_NAME.get(key, "?")


def _unknown_columns(where: str, line: str, unknown: list[str]) -> Problem:
    known = "、".join(FIELD_NAMES_ZH.values())
    return Problem(
        where,
        line,
        f"无法识别的列：{'、'.join(unknown)}（可用：{known}）",
        f"unknown column(s): {', '.join(unknown)} (known: {', '.join(FIELDS)})",
    )


def _pairs(body: str, where: str, line: str) -> tuple[dict[str, str], list[Problem]]:
    """`任务：…；负责人：…` → fields. A first part without a label is the task itself."""
    fields: dict[str, str] = {}
    problems: list[Problem] = []
    for index, part in enumerate(re.split(r"[;；]", body)):
        if not part.strip():
            continue
        pieces = re.split(r"([:：])", part, maxsplit=1)
        label, colon, value = [*pieces, "", ""][:3]
        if colon and _key(label) in _FIELD_BY_NAME:
            name = _FIELD_BY_NAME[_key(label)]
            if name in fields:
                problems.append(
                    Problem(
                        where,
                        line,
                        f"{FIELD_NAMES_ZH[name]} 写了两次",
                        f"{name} is given twice",
                    )
                )
            fields[name] = value.strip().rstrip("。.")
        elif index == 0 and "description" not in fields:
            fields["description"] = part.strip()
        else:
            shown = label.strip() if colon else part.strip()
            problems.append(
                Problem(
                    where,
                    line,
                    f"无法识别“{shown}”（每项写作 任务：…；负责人：…；截止日期：…）",
                    f"cannot read {shown!r} (write 任务：…；负责人：…；截止日期：…)",
                )
            )
    return fields, problems


def read_toml(text: str, source: str) -> Sheet:
    """A .toml file of the same shape; problems name the key path, like config errors."""
    sheet = Sheet()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        sheet.problems.append(Problem(source, "", f"不是有效的 TOML：{exc}", f"not TOML: {exc}"))
        return sheet
    for name, value in data.items():
        key = _FIELD_SECTION.get(_key(name))
        if key in TEXT_SECTIONS:
            sheet.sections[key] = _joined(value)
        elif key == "items":
            if not isinstance(value, list):
                sheet.problems.append(
                    Problem(name, "", "应为 [[items]] 表格数组", "must be an array of [[items]]")
                )
                continue
            for position, entry in enumerate(value, start=1):
                _toml_row(sheet, name, position, entry)
        elif key in ("basic", "attendees"):
            continue  # prefilled from the meeting; collabd keeps the meeting's own
        else:
            sheet.problems.append(
                Problem(
                    name,
                    "",
                    f"未知的键（可用：{', '.join(TOML_KEYS)}）",
                    f"unknown key (known: {', '.join(TOML_KEYS)})",
                )
            )
    sheet.sections.setdefault("items", "")
    return sheet


TOML_KEYS = ("discussion", "decisions", "next_steps", "next_meeting", "items")
_FIELD_SECTION = {_key(name): key for key, names in SECTIONS.items() for name in names}
_FIELD_SECTION |= {key: key for key in SECTIONS} | {"items": "items", "action_items": "items"}


def _joined(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(f"{n}. {v}" for n, v in enumerate(value, start=1))
    return str(value).strip()


def _toml_row(sheet: Sheet, name: str, position: int, entry: object) -> None:
    where = f"{name}[{position}]"
    if not isinstance(entry, dict):
        sheet.problems.append(Problem(where, "", "应为一个表", "must be a table"))
        return
    fields: dict[str, str] = {}
    for key, value in entry.items():
        canonical = _FIELD_BY_NAME.get(_key(key))
        if canonical is None:
            sheet.problems.append(
                Problem(
                    f"{where}.{key}",
                    "",
                    f"未知的键（可用：{', '.join(FIELDS)}）",
                    f"unknown key (known: {', '.join(FIELDS)})",
                )
            )
            continue
        if isinstance(value, list):
            value = "、".join(str(v) for v in value)
        elif isinstance(value, date):
            value = value.isoformat()
        fields[canonical] = str(value).strip()
    sheet.rows.append(SheetRow(where, "", fields))


def reply_text(message: Message) -> str:
    """What the recorder typed in a reply: HTML preferred (Outlook's tables survive as
    Markdown rows), quoted history and signatures removed by the reply reader. Unlike
    item replies, lines that were in collabd's own mail are kept: the filled form IS them."""
    plain, html, other = decode.body_parts(message)
    if html is not None:
        text = html_to_text(tables_as_rows(html))
    else:
        text = (plain or other or "").replace(CUT_MARK, "")
    return trim_signature(_without_own_footer(quotes.strip_history(text, signatures=False)))


# The footer every collabd mail ends with (templates: `{% block footer %}` and the text
# parts' last line). A recorder who fills the form inside the request mail (Outlook: the
# HTML table typed into) sends it back too; after 【下次会议】 it read as the next meeting.
_OWN_FOOTER = re.compile(
    r"^[\s\-—–_]*collabd\s*(?:协作助手\s*[（(]自动邮件[)）]|[（(]automatic mail[)）])\s*$", re.I
)


def _without_own_footer(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _OWN_FOOTER.match(line))


def trim_signature(text: str) -> str:
    """Drop a signature (发自我的iPhone, `--`, a disclaimer) only after the last section
    heading: inside the minutes, a line like "使用企业微信群同步进度" is content."""
    lines = text.split("\n")
    cut = len(lines)
    last_heading = 0
    for index in range(len(lines) - 1, -1, -1):
        if section_of(lines[index]):
            last_heading = index
            break
        if quotes.is_signature_start(fold(lines[index]).strip()):
            cut = index
    # A Foxmail / Outlook name + title + phone block without "--" (after the last section).
    tail = lines[last_heading + 1 : cut]
    cut = last_heading + 1 + quotes.contact_block_start(tail) if tail else cut
    return quotes.tidy(lines[:cut])


# Attributes are bounded ({0,500}): `<tr<tr<tr…` without a `>` must not make every `<tr`
# scan to the end of the mail.
_INNERMOST_ROW = re.compile(r"<tr\b[^>]{0,500}>((?:(?!<tr\b|</tr>).)*)</tr>", re.I | re.S)
_CELL_TAG = re.compile(r"<(/?)t[dh]\b[^>]{0,500}>", re.I)


def cells_of(row_html: str) -> list[str]:
    """The cells of a row, in one pass over its tags. A regex `<td…>(.*?)</td>` searched for
    a `</td>` after every `<td>`: 40,000 unclosed `<td>` took 31 s (quadratic)."""
    cells: list[str] = []
    start: int | None = None
    for tag in _CELL_TAG.finditer(row_html):
        if not tag[1]:
            start = tag.end()
        elif start is not None:
            cells.append(row_html[start : tag.start()])
            start = None
    return cells


def tables_as_rows(html: str) -> str:
    """Each table row of two or more cells becomes one `| a | b |` paragraph."""

    def row(match: re.Match[str]) -> str:
        cells = cells_of(match[1])
        if len(cells) < 2:
            return match[0]
        texts = [" ".join(html_to_text(cell).split()).replace("|", "/") for cell in cells]
        escaped = [t.replace("&", "&amp;").replace("<", "&lt;") for t in texts]
        return "<p>| " + " | ".join(escaped) + " |</p>"

    return _INNERMOST_ROW.sub(row, html)
