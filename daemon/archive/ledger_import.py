"""`collabd items import`: bring an existing follow-up ledger (跟进台账) in, from xlsx or csv.

The file is laid out like the seed tables (seed 003 模板1: 任务名称 / 负责人 / 协助人 /
所属部门 / 优先级 / 截止日期 / 状态 / 交付物 / 备注) or like collabd's own export (same
columns plus 编号, 进度(%), 完成标准, 所需支持, 依赖, 验收), with Chinese or English headers.
Every row is checked first; one bad cell anywhere and nothing is imported, and every
problem is reported as `FILE:ROW: column: what is wrong`, ROW as the spreadsheet numbers it.

Reading is linear in the file: one pass over the rows, each cell looked at once.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..clock import plausible_day
from ..errors import CollabdError, DataError
from ..ledger.dependencies import refuse_cycles
from ..ledger.history import Origin, record_changes_on
from ..ledger.items import add_items
from ..ledger.people import find_department, find_person
from ..ledger.specs import PRIORITY_WORDS, ItemSpec
from ..store.models import Collaboration, ItemStatus, Person, Priority

if TYPE_CHECKING:
    from ..app import App
    from ..store.models import ActionItem

# field -> the headers that name it (compared without spaces, case-insensitively).
HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("编号", "序号", "#", "item", "no", "no."),
    "description": ("任务名称", "任务", "任务描述", "task", "taskname", "description"),
    "owner": ("负责人", "责任人", "owner"),
    "collaborators": ("协助人", "协作人", "collaborators", "collaborator", "assistants"),
    "department": ("所属部门", "部门", "department"),
    "priority": ("优先级", "priority"),
    "deadline": ("截止日期", "截止时间", "deadline", "due", "duedate"),
    "status": ("状态", "当前状态", "status"),
    "progress": ("进度(%)", "进度", "progress", "progress(%)", "%"),
    "done_criteria": ("完成标准", "交付标准", "donecriteria", "donewhen", "criteria"),
    "support": ("所需支持", "需要支持", "support", "supportneeded"),
    "depends_on": ("依赖", "前置任务", "dependson", "depends", "dependencies"),
    "deliverable": ("交付物", "deliverables", "deliverable"),
    "note": ("备注", "说明", "note", "notes"),
    # read and left alone: which collaboration an export row came from, the acceptance
    # trail (it is the receiver's to give, not a file's)
    "ignored": ("协作", "collab", "collaboration", "验收", "acceptance"),
}
_BY_HEADER = {name: key for key, names in HEADERS.items() for name in names}
REQUIRED = ("description", "owner")
EMPTY = ("", "—", "-", "无", "none", "n/a")

STATUS_WORDS = {
    "未开始": "not_started",
    "待开始": "not_started",  # seed 003's word
    "进行中": "in_progress",
    "已完成": "done",
    "完成": "done",
    "阻塞": "blocked",
    "需支持": "needs_support",
    "延期": "delayed",
    "已取消": "cancelled",
    "取消": "cancelled",
    "not started": "not_started",
    "in progress": "in_progress",
    "needs support": "needs_support",
}
_DEPENDENCY = re.compile(r"#?\s*(\d{1,6})")
_DATE_FORMS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)
MAX_ROWS = 100_000  # a ledger, not a data dump


@dataclass
class Row:
    """One checked row, ready to become an item."""

    line: int  # the spreadsheet's row number
    number: int  # its 编号 in the file (or its place among the rows)
    spec: ItemSpec
    status: ItemStatus = ItemStatus.NOT_STARTED
    progress: int = 0
    note: str = ""
    depends_on: list[int] = field(default_factory=list)


@dataclass
class Checked:
    rows: list[Row]
    problems: list[str]
    ignored: list[str]  # columns collabd does not know, left out (said, not refused)


def read_table(path: Path) -> tuple[int, list[str], Iterator[tuple[int, list[object]]]]:
    """(header row number, headers, (row number, cells) of the rows below it)."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    else:
        raise DataError(f"{path}: give a .xlsx or .csv file")
    for number, cells in rows:  # the header: the first row naming a task and an owner
        keys = {_BY_HEADER.get(_header(c)) for c in cells}
        if "description" in keys and "owner" in keys:
            return number, [_text(c) for c in cells], rows
        if number >= 20:
            break
    raise DataError(
        f"{path}:1: no header row naming 任务名称 (task) and 负责人 (owner) in the first 20 rows"
    )


def _csv_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="gb18030")  # what Excel on a Chinese Windows saves
    for number, cells in enumerate(csv.reader(text.splitlines()), start=1):
        yield number, [_unsafe(c) for c in cells]


def _unsafe(cell: str) -> str:
    """Undo the export's CSV-injection guard: `'=…` was written for a cell `=…`."""
    if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return cell[1:]
    return cell


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    import zipfile

    from openpyxl import load_workbook  # only this command pays for it

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DataError(f"{path}: not an xlsx workbook ({exc})") from None
    sheet = book["跟进台账"] if "跟进台账" in book.sheetnames else book.worksheets[0]
    for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield number, list(cells)


def _header(cell: object) -> str:
    return re.sub(r"\s+", "", _text(cell)).lower()


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def check(session: Session, collab: Collaboration, path: Path, today: date) -> Checked:
    """Every row checked against the ledger (people, departments) before anything is written."""
    header_line, headers, rows = read_table(path)
    keys = [_BY_HEADER.get(_header(h)) for h in headers]
    ignored = [h for h, k in zip(headers, keys, strict=True) if h and k is None]
    keys = [k or "ignored" for k in keys]
    missing = [
        f"{path}:{header_line}: {HEADERS[needed][0]}: column missing"
        for needed in REQUIRED
        if needed not in keys
    ]
    if missing:
        return Checked([], missing, ignored)
    problems: list[str] = []
    people = _People(session, collab)
    checked: list[Row] = []
    seen: dict[int, int] = {}
    for line, cells in rows:
        values = {
            key: cells[i] if i < len(cells) else None
            for i, key in enumerate(keys)
            if key != "ignored"
        }
        if not any(_text(v) for v in values.values()):
            continue  # a blank line between blocks
        if len(checked) >= MAX_ROWS:
            problems.append(f"{path}:{line}: more than {MAX_ROWS} rows; split the file")
            break
        row = _row(values, line, len(checked) + 1, people, today, path, problems, headers, keys)
        if row is None:
            continue
        if row.number in seen:
            problems.append(
                f"{path}:{line}: {_name(headers, keys, 'number')}: #{row.number} is also "
                f"row {seen[row.number]}"
            )
        seen[row.number] = line
        checked.append(row)
    numbers = {row.number for row in checked}
    for row in checked:
        for number in row.depends_on:
            if number not in numbers or number == row.number:
                problems.append(
                    f"{path}:{row.line}: {_name(headers, keys, 'depends_on')}: #{number} is "
                    "not another row of this file"
                )
    return Checked(checked, problems, ignored)


def _name(headers: list[str], keys: list[str | None], key: str) -> str:
    """The column as the file names it (the problem should quote the file, not collabd)."""
    return next((h for h, k in zip(headers, keys, strict=True) if k == key), HEADERS[key][0])


class _People:
    """Names, mail addresses and departments looked up once per file, not once per row."""

    def __init__(self, session: Session, collab: Collaboration) -> None:
        self.session, self.collab = session, collab
        self.found: dict[str, Person | str] = {}

    def person(self, ref: str) -> Person | str:
        """The person, or what is wrong."""
        if ref not in self.found:
            try:
                self.found[ref] = find_person(self.session, ref, self.collab)
            except CollabdError as exc:
                self.found[ref] = str(exc)
        return self.found[ref]

    def department(self, name: str) -> str | None:
        key = f"dept:{name}"
        if key not in self.found:
            try:
                find_department(self.session, name)
                self.found[key] = ""
            except CollabdError as exc:
                self.found[key] = str(exc)
        return self.found[key] or None


def _row(values, line, place, people, today, path, problems, headers, keys) -> Row | None:
    """One row checked; its problems appended, None if it has any."""
    before = len(problems)

    def bad(key: str, message: str) -> None:
        problems.append(f"{path}:{line}: {_name(headers, keys, key)}: {message}")

    def text(key: str) -> str:
        value = _text(values.get(key))
        return "" if value.lower() in EMPTY else value

    description, owner_ref = text("description"), text("owner")
    if not description:
        bad("description", "empty; every row needs its task")
    owner = None
    if not owner_ref:
        bad("owner", "empty; every task needs exactly one owner")
    else:
        found = people.person(owner_ref)
        if isinstance(found, str):
            bad("owner", found)
        else:
            owner = found
    collaborators = [
        n.strip() for n in re.split(r"[、,，;；/]", text("collaborators")) if n.strip()
    ]
    for name in collaborators:
        found = people.person(name)
        if isinstance(found, str):
            bad("collaborators", found)
    department = text("department")
    if department:
        wrong = people.department(department)
        if wrong:
            bad("department", wrong)
    priority = Priority.NORMAL
    if text("priority"):
        word = text("priority")
        try:
            priority = Priority(PRIORITY_WORDS.get(word, word.lower()))
        except ValueError:
            bad("priority", f"“{word}” is not a priority; write 高 / 中 / 低 (high / normal / low)")
    deadline = None
    if values.get("deadline") not in (None, "") and text("deadline"):
        deadline = _date(values["deadline"])
        if deadline is None:
            bad("deadline", f"“{text('deadline')}” is not a date; write 2026-12-20")
    status = ItemStatus.NOT_STARTED
    if text("status"):
        word = text("status")
        try:
            status = ItemStatus(STATUS_WORDS.get(word.lower(), STATUS_WORDS.get(word, word)))
        except ValueError:
            bad(
                "status",
                f"“{word}” is not a status; write 未开始 / 进行中 / 已完成 / 阻塞 / 需支持 / "
                "延期 / 已取消",
            )
    progress = 100 if status is ItemStatus.DONE else 0
    if text("progress"):
        word = text("progress").rstrip("%").strip()
        if word.isdigit() and 0 <= int(word) <= 100:
            progress = int(word)
        else:
            bad("progress", f"“{text('progress')}” is not a percentage from 0 to 100")
    number = place
    if text("number"):
        match = re.fullmatch(r"#?\s*(\d{1,6})", text("number"))
        if match:
            number = int(match[1])
        else:
            bad("number", f"“{text('number')}” is not an item number like #3")
    depends: list[int] = []
    if text("depends_on"):
        rest = _DEPENDENCY.sub("", text("depends_on"))
        if rest.strip(" 、,，;；"):
            bad(
                "depends_on", f"“{text('depends_on')}”: write the numbers it waits for, like #1、#3"
            )
        depends = [int(m[1]) for m in _DEPENDENCY.finditer(text("depends_on"))]
    criteria = text("done_criteria")
    if not criteria and text("deliverable"):  # the seed's 交付物 says what "done" delivers
        criteria = f"交付物：{text('deliverable')}"
    if len(problems) > before or owner is None:
        return None
    spec = ItemSpec(
        description=description,
        owner=owner.email,
        deadline=deadline,
        priority=priority,
        done_criteria=criteria,
        collaborators=[people.person(n).email for n in collaborators],
        support=text("support"),
        department=department or None,
    )
    return Row(line, number, spec, status, progress, text("note"), depends)


def _date(value: object) -> date | None:
    """The day a cell holds, or None (also for a day outside 2000–2099: a typo)."""
    found = _any_date(value)
    return found if found is not None and plausible_day(found) else None


def _any_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for form in _DATE_FORMS:
        match = form.match(text)
        if match:
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                return None
    return None


def apply(
    session: Session, app: App, collab: Collaboration, rows: list[Row], origin: Origin
) -> list[ActionItem]:
    """Write the checked rows as items (next numbers of the collaboration), with their
    status, progress, note and dependencies as the file has them; one history row per field
    that differs from a new item, marked imported."""
    items = add_items(session, app, collab, [row.spec for row in rows], origin)
    by_number = {row.number: item for row, item in zip(rows, items, strict=True)}
    now = app.clock.now()
    for row, item in zip(rows, items, strict=True):
        changes = [
            (name, getattr(item, name), value)
            for name, value in (
                ("status", row.status),
                ("progress", row.progress),
                ("note", row.note),
            )
            if getattr(item, name) != value
        ]
        for name, _, value in changes:
            setattr(item, name, value)
        if changes:
            item.status_since = now
            record_changes_on(session, origin, now, item, changes, action="imported")
        item.depends_on = [by_number[n] for n in row.depends_on]
    session.flush()
    refuse_cycles(session, items)
    return items
