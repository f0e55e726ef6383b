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
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..clock import plausible_day
from ..errors import CollabdError, DataError
from ..ledger.dependencies import refuse_cycles
from ..ledger.history import Origin, record_changes_on, record_on
from ..ledger.items import add_items
from ..ledger.people import find_department, find_person
from ..ledger.specs import PRIORITY_WORDS, ItemSpec
from ..store.models import AcceptanceRequest, Collaboration, ItemStatus, Person, Priority, Verdict

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
    # where the latest acceptance round stands: the export writes it, so a ledger moved
    # from one collabd (or one collaboration) to another keeps what its receivers decided
    "acceptance": ("验收", "验收状态", "验收结果", "acceptance", "accepted"),
    # read and left alone: which collaboration an export row came from
    "ignored": ("协作", "collab", "collaboration"),
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
# The export writes 待验收 / 通过 / 不通过 (archive/record.py); people write these too.
ACCEPTANCE_WORDS = {
    "待验收": Verdict.PENDING,
    "验收中": Verdict.PENDING,
    "pending": Verdict.PENDING,
    "通过": Verdict.ACCEPTED,
    "已通过": Verdict.ACCEPTED,
    "验收通过": Verdict.ACCEPTED,
    "accepted": Verdict.ACCEPTED,
    "不通过": Verdict.REJECTED,
    "未通过": Verdict.REJECTED,
    "验收不通过": Verdict.REJECTED,
    "驳回": Verdict.REJECTED,
    "rejected": Verdict.REJECTED,
}
_DEPENDENCY = re.compile(r"#?\s*(\d{1,6})")
_DATE_FORMS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)
# 12月30日 as on the command line and in the minutes: the next such day on or after today.
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*月\s*(\d{1,2})\s*(?:日|号)?$")
MAX_ROWS = 100_000  # a ledger, not a data dump
# Longest cell read: Python's csv module stops at this length by default, and Excel holds at
# most 32,767 characters in a cell, so anything longer is a broken export, not a task.
MAX_CELL = 131_072


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
    acceptance: Verdict | None = None


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
    # The csv module's own cap (MAX_CELL) raises csv.Error, a traceback naming neither row
    # nor column: read any length here, and check() names the cell that is too long.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    # newline="": a line break inside a quoted cell (a multi-line 完成标准) stays in the
    # cell; str.splitlines() dropped it, and split cells at U+2028 and other separators.
    reader = csv.reader(io.StringIO(text, newline=""))
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, [_unsafe(c) for c in cells]
    except csv.Error as exc:  # what the csv module cannot read at all: the row, not a traceback
        raise DataError(f"{path}:{number + 1}: not readable as csv ({exc})") from None


def _unsafe(cell: str) -> str:
    """Undo the export's CSV-injection guard: `'=…` was written for a cell `=…`."""
    if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return cell[1:]
    return cell


@dataclass(frozen=True)
class Uncomputed:
    """A formula cell the file holds no computed value for (written by a program, never
    opened in Excel or LibreOffice): collabd does not evaluate formulas, so it is named."""

    cell: str  # A1-style, as the spreadsheet shows it
    formula: str


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    """Cell values as the spreadsheet shows them: a formula cell gives the value Excel
    computed and saved with it (data_only); one saved without it gives Uncomputed."""
    from openpyxl.utils import get_column_letter

    values = _xlsx_sheet(path, data_only=True)
    if not _has_formulas(path, values):
        for number, cells in enumerate(values.iter_rows(values_only=True), start=1):
            yield number, list(cells)
        return
    formulas = _xlsx_sheet(path, data_only=False).iter_rows(values_only=True)
    for number, cells in enumerate(values.iter_rows(values_only=True), start=1):
        written = next(formulas, ())
        row = list(cells)
        for index, value in enumerate(row):
            source = written[index] if index < len(written) else None
            if value is None and isinstance(source, str) and source.startswith("="):
                row[index] = Uncomputed(f"{get_column_letter(index + 1)}{number}", source)
        yield number, row


def _xlsx_sheet(path: Path, *, data_only: bool):
    import zipfile

    from openpyxl import load_workbook  # only this command pays for it

    try:
        book = load_workbook(path, read_only=True, data_only=data_only)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DataError(f"{path}: not an xlsx workbook ({exc})") from None
    return book["跟进台账"] if "跟进台账" in book.sheetnames else book.worksheets[0]


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path: Path, sheet) -> bool:
    """Whether the sheet's XML holds any formula (<f>), read in chunks: most ledgers have
    none, and those are read once, not twice."""
    import zipfile

    part = getattr(sheet, "_worksheet_path", None)
    if not part:
        return True  # cannot tell: read the formulas too
    with zipfile.ZipFile(path) as archive, archive.open(part.lstrip("/")) as xml:
        tail = b""
        while chunk := xml.read(1 << 20):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-16:]
    return False


def _header(cell: object) -> str:
    return re.sub(r"\s+", "", _text(cell)).lower()


def _text(cell: object) -> str:
    if cell is None or isinstance(cell, Uncomputed):
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
    seen: dict[int, int] = {}  # number -> its row, for every row read (good or not)
    waits: dict[int, list[int]] = {}  # number -> the numbers it waits for
    place = 0
    for line, cells in rows:
        values = {
            key: cells[i] if i < len(cells) else None
            for i, key in enumerate(keys)
            if key != "ignored"
        }
        if not any(_text(v) or isinstance(v, Uncomputed) for v in values.values()):
            continue  # a blank line between blocks
        if place >= MAX_ROWS:
            problems.append(f"{path}:{line}: more than {MAX_ROWS} rows; split the file")
            break
        place += 1
        if _unreadable(values, line, path, problems, headers, keys):
            continue
        row, number, depends = _row(
            values, line, place, people, today, path, problems, headers, keys
        )
        if number in seen:
            problems.append(
                f"{path}:{line}: {_name(headers, keys, 'number')}: #{number} is also "
                f"row {seen[number]}"
            )
        else:
            seen[number] = line
            waits[number] = depends
        if row is not None:
            checked.append(row)
    column = _name(headers, keys, "depends_on") if "depends_on" in keys else "依赖"
    for number, depends in waits.items():
        for wanted in depends:
            if wanted not in seen or wanted == number:
                problems.append(
                    f"{path}:{seen[number]}: {column}: #{wanted} is not another row of this file"
                )
    problems.extend(_cycles(waits, seen, path, column))
    return Checked(checked, problems, ignored)


def _unreadable(values, line, path, problems, headers, keys) -> bool:
    """Cells collabd cannot take as they are: longer than MAX_CELL, or a formula without a
    computed value. Each named; the row is then not checked further."""
    before = len(problems)
    for key, value in values.items():
        where = f"{path}:{line}: {_name(headers, keys, key)}"
        if isinstance(value, Uncomputed):
            problems.append(
                f"{where}: cell {value.cell} holds the formula {value.formula[:80]} and no "
                "value computed for it; open the file in Excel or LibreOffice and save it, "
                "or type the value"
            )
        elif isinstance(value, str) and len(value) > MAX_CELL:
            problems.append(
                f"{where}: {len(value):,} characters; a cell holds at most {MAX_CELL:,}"
            )
    return len(problems) > before


def _cycles(
    waits: dict[int, list[int]], rows: dict[int, int], path: Path, column: str
) -> list[str]:
    """Every cycle among the file's dependencies, once each, named by its numbers and the
    spreadsheet rows they are on: items that wait on each other never start."""
    found: list[str] = []
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for start in waits:
        if start in state:
            continue
        path_: list[int] = [start]
        state[start] = 1
        pending = [iter(waits.get(start, ()))]
        while pending:
            nxt = next(pending[-1], None)
            if nxt is None:
                state[path_.pop()] = 2
                pending.pop()
                continue
            if nxt not in waits or nxt == path_[-1]:
                continue  # a missing row, or the row itself: said above
            if state.get(nxt) == 1:  # back to a number on the path: a cycle
                loop = path_[path_.index(nxt) :]
                numbers = " → ".join(f"#{n}" for n in [*loop, loop[0]])
                lines = " → ".join(str(rows[n]) for n in [*loop, loop[0]])
                found.append(
                    f"{path}:{rows[loop[0]]}: {column}: {numbers} wait for each other "
                    f"(rows {lines}), so none of them could start; remove one of these "
                    "dependencies"
                )
            elif nxt not in state:
                state[nxt] = 1
                path_.append(nxt)
                pending.append(iter(waits.get(nxt, ())))
    return found


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


def _row(
    values, line, place, people, today, path, problems, headers, keys
) -> tuple[Row | None, int, list[int]]:
    """One row checked, its problems appended: (the row, None if it has any; its number and
    the numbers it waits for, read also from a bad row so the others' dependencies on it
    are judged against the file as written)."""
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
        deadline = _date(values["deadline"], today)
        if deadline is None:
            bad(
                "deadline",
                f"“{text('deadline')}” is not a date; write it like {today + timedelta(days=14)}, "
                f"{(today + timedelta(days=14)):%Y年%-m月%-d日} or "
                f"{(today + timedelta(days=14)):%-m月%-d日}",
            )
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
    acceptance = None
    if text("acceptance"):
        word = text("acceptance")
        acceptance = ACCEPTANCE_WORDS.get(word, ACCEPTANCE_WORDS.get(word.lower()))
        if acceptance is None:
            bad("acceptance", f"“{word}” is not an acceptance state; write 待验收 / 通过 / 不通过")
        elif acceptance is Verdict.REJECTED and status is ItemStatus.DONE:
            bad(
                "acceptance",
                f"“{word}” sends the item back to work, so its status cannot be "
                f"“{text('status')}”; write 进行中 (or the status it has now)",
            )
        elif acceptance is not Verdict.REJECTED and status is not ItemStatus.DONE:
            bad(
                "acceptance",
                f"“{word}” is for a finished item; its status is “{text('status') or '未开始'}”",
            )
    if len(problems) > before or owner is None:
        return None, number, depends
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
    return (
        Row(line, number, spec, status, progress, text("note"), depends, acceptance),
        number,
        depends,
    )


def _date(value: object, today: date) -> date | None:
    """The day a cell holds, or None (also for a day outside 2000–2099: a typo)."""
    found = _any_date(value) or _month_day(_text(value), today)
    return found if found is not None and plausible_day(found) else None


def _any_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A day whose cell lost its date format (or a formula's saved result) is the
        # spreadsheet's day number: 46376 is 2026-12-20 in Excel and LibreOffice.
        return _serial_day(value)
    text = _text(value)
    for form in _DATE_FORMS:
        match = form.match(text)
        if match:
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                return None
    return None


def _month_day(text: str, today: date) -> date | None:
    """`12月30日`: the next 30 December on or after today (2月29日: the next leap year)."""
    match = _MONTH_DAY.match(text)
    if not match:
        return None
    for year in range(today.year, today.year + 8):
        try:
            found = date(year, int(match[1]), int(match[2]))
        except ValueError:
            continue
        if found >= today:
            return found
    return None


def _serial_day(value: float) -> date | None:
    from openpyxl.utils.datetime import from_excel

    try:
        found = from_excel(value)
    except (ValueError, OverflowError):
        return None
    return found.date() if isinstance(found, datetime) else found


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
    for row, item in zip(rows, items, strict=True):
        if row.acceptance is not None:
            _accepted_as_filed(session, app, item, row.acceptance, origin, now)
    return items


def _accepted_as_filed(
    session: Session, app: App, item: ActionItem, verdict: Verdict, origin: Origin, now
) -> None:
    """The file's acceptance state as round 1 of the item's acceptance trail. Still waiting
    (待验收): the receiver is asked, as after any `#N 完成`; decided: recorded as the file
    says, with the import as its source, and nobody is mailed about an old verdict."""
    from ..closing.acceptance import deliver, receiver_for

    if verdict is Verdict.PENDING:
        deliver(session, app, item, [], origin, just_done=False)
        return
    session.add(
        AcceptanceRequest(
            item_id=item.id,
            collaboration_id=item.collaboration_id,
            round=1,
            receiver_id=receiver_for(item).id,
            requested_at=now,
            requested_by=origin.source,
            verdict=verdict,
            decided_at=now,
            decided_by_id=origin.person.id if origin.person else None,
            decision_source=origin.source,
            note="",
        )
    )
    record_on(
        session,
        origin,
        now,
        item,
        action="imported",
        field="acceptance",
        new=verdict.value,
        note="round 1",
    )
