"""Tables as an Excel workbook (openpyxl): styled header, column widths, frozen header row,
dates as real dates, status and verdict cells colored as teams color their 跟进台账."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from ..textwidth import display_width
from .record import Sheet

HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF", name="Microsoft YaHei")
BODY_FONT = Font(name="Microsoft YaHei")
THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)

# Excel's own "good / neutral / bad" palette, so the colors read the way people expect.
GREEN, YELLOW, RED, BLUE, ORANGE, GREY = (
    "C6EFCE",
    "FFEB9C",
    "FFC7CE",
    "DDEBF7",
    "FCE4D6",
    "EDEDED",
)
STATUS_COLORS = {
    "已完成": GREEN,
    "进行中": BLUE,
    "未开始": GREY,
    "阻塞": RED,
    "需支持": ORANGE,
    "延期": YELLOW,
    "已归档": GREY,
}
VERDICT_COLORS = {"通过": GREEN, "不通过": RED, "待验收": YELLOW}
FORMATS = {"date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm"}


def fill_for(kind: str, value: object) -> str | None:
    table = STATUS_COLORS if kind == "status" else VERDICT_COLORS if kind == "verdict" else {}
    return table.get(str(value)) if value is not None else None


def add_sheet(book: Workbook, sheet: Sheet) -> None:
    ws = book.create_sheet(sheet.name)
    for index, column in enumerate(sheet.columns, start=1):
        cell = ws.cell(row=1, column=index, value=column.header)
        cell.fill, cell.font, cell.border = HEADER_FILL, HEADER_FONT, BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.row_dimensions[1].height = 22
    for row_number, row in enumerate(sheet.rows, start=2):
        for index, (column, value) in enumerate(zip(sheet.columns, row, strict=True), start=1):
            cell = ws.cell(row=row_number, column=index, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # someone's note, never a formula
            cell.font, cell.border = BODY_FONT, BORDER
            cell.alignment = Alignment(vertical="top", wrap_text=column.kind == "wrap")
            if isinstance(value, datetime):
                cell.number_format = FORMATS["datetime"]
            elif isinstance(value, date):
                cell.number_format = FORMATS["date"]
            color = fill_for(column.kind, value)
            if color:
                cell.fill = PatternFill("solid", fgColor=color)
                cell.alignment = Alignment(horizontal="center", vertical="top")
        ws.row_dimensions[row_number].height = _row_height(sheet, row)
    ws.freeze_panes = "A2"
    # Printed (or saved as PDF) the way the seed forms are: landscape, one page wide, the
    # header row repeated on every page.
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_title_rows = "1:1"
    if sheet.rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{len(sheet.rows) + 1}"


def _row_height(sheet: Sheet, row: list[object]) -> float:
    """Tall enough for the wrapped text: openpyxl cannot measure, and Excel does not grow a
    row on opening a file, so estimate lines from the column width (CJK counts double)."""
    lines = 1
    for column, value in zip(sheet.columns, row, strict=True):
        if column.kind != "wrap" or not isinstance(value, str):
            continue
        count = 0
        for text in value.splitlines() or [""]:
            count += max(1, -(-display_width(text) // max(column.width - 1, 1)))
        lines = max(lines, count)
    return min(15.0 * lines + 4, 400)


def write_workbook(sheets: list[Sheet], path: Path, title: str) -> None:
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        add_sheet(book, sheet)
    book.properties.title = title
    book.properties.creator = "collabd"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
