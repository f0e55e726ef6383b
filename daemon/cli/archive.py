"""`collabd archive COLLAB`, `collabd export`, and `collabd collab close` (registered by
cli/collab.py): the end of a collaboration, and the ledger as a table."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from ..announce.collab_changes import cancel_meetings_to_come
from ..archive.folder import write_archive
from ..archive.record import ITEM_COLUMNS, Column, Sheet, item_row
from ..archive.xlsx import write_workbook
from ..closing import retrospective
from ..closing.acceptance import all_rounds
from ..errors import UsageError
from ..ledger.collaborations import find_collaboration
from ..ledger.items import ItemFilter, query_items
from ..store.models import Collaboration
from .changed import active_collaboration
from .commands import HELP
from .context import Context
from .output import emit_json, table


def register(commands: argparse._SubParsersAction) -> None:
    archive = commands.add_parser(
        "archive",
        help=HELP["archive"],
        description="Write the collaboration's whole record into a folder named YYYY-MM-主题: "
        "record.xlsx (overview, meetings and minutes, action items, follow-up log, "
        "resource requests, acceptance, retrospective, late items), record.html (the "
        "same, for a browser, with the minutes as sent) and deliverables/. The "
        "collaboration becomes read-only: later replies are answered that it is "
        "archived. Running it again rewrites the folder from the ledger.",
    )
    archive.add_argument("code", metavar="COLLAB")
    archive.add_argument(
        "--out", type=Path, metavar="DIR", help="where to write (default: archive.root)"
    )
    archive.add_argument(
        "--force",
        action="store_true",
        help="archive although items are open, results wait for acceptance or the "
        "retrospective is missing (they are listed otherwise, and nothing is archived)",
    )
    archive.add_argument("--json", action="store_true")
    archive.set_defaults(handler=archive_collaboration)

    export = commands.add_parser(
        "export",
        help=HELP["export"],
        description="Export the action items of every collaboration (or one) with the "
        "follow-up ledger's columns. csv is UTF-8 with a BOM, as Excel opens it.",
    )
    export.add_argument("--collab", metavar="CODE", help="only this collaboration")
    export.add_argument("--format", choices=("xlsx", "csv"), required=True)
    export.add_argument(
        "--out", type=Path, metavar="FILE", help="file to write (csv: default stdout)"
    )
    export.set_defaults(handler=export_ledger)


def add_close_command(sub: argparse._SubParsersAction) -> None:
    close = sub.add_parser(
        "close",
        help="end a collaboration: ask everyone for the retrospective (复盘)",
        description="Ask every participant for a retrospective (亮点 / 不足 / 改进建议); items "
        "that ran late get their cause from their history. Happens by itself when the "
        "last item is accepted. Archive it afterwards with `collabd archive`.",
    )
    close.add_argument("code", metavar="COLLAB")
    close.add_argument("--json", action="store_true")
    close.set_defaults(handler=close_collaboration)


def close_collaboration(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    with app.db.transaction() as session:
        collab = active_collaboration(session, args.code)
        retro = retrospective.start(session, app, collab, retrospective.CLOSED, context.origin)
        existing = retro or retrospective.find(session, collab)
        view = {
            "collab": collab.code,
            "requested_now": retro is not None,
            "requested_at": existing.requested_at,
            "reason": existing.reason,
            "late_items": [
                {
                    "number": late.item.number,
                    "deadline": late.deadline,
                    "finished_on": late.finished_on,
                    "days_late": late.days_late,
                    "cause": late.cause,
                }
                for late in existing.late_items
            ],
        }
    if args.json:
        emit_json(view)
        return 0
    if view["requested_now"]:
        print(f"{view['collab']}: retrospective requests queued for every participant")
    else:
        print(
            f"{view['collab']}: the retrospective was requested already, "
            f"{context.local(view['requested_at'])} ({view['reason']})"
        )
    if view["late_items"]:
        print("\nlate items")
        table(
            ["#", "deadline", "finished", "days late", "cause"],
            [
                [f"#{x['number']}", x["deadline"], x["finished_on"], x["days_late"], x["cause"]]
                for x in view["late_items"]
            ],
        )
    return 0


def archive_collaboration(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    cancelled: list[str] = []
    with app.db.transaction() as session:
        folder = write_archive(session, app, args.code, args.out, context.origin, force=args.force)
        collab = find_collaboration(session, args.code)
        # A read-only collaboration keeps no meeting in anyone's calendar (as 取消 does).
        cancelled = [
            f"{m.id} {context.local(m.starts_at)} {m.title}"
            for m in cancel_meetings_to_come(session, app, collab, context.origin, "协作已归档")
        ]
    contents = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    if args.json:
        emit_json(
            {
                "collab": args.code,
                "folder": str(folder),
                "files": contents,
                "meetings_cancelled": cancelled,
            }
        )
        return 0
    print(f"archived {args.code} → {folder}")
    for name in contents:
        print(f"  {name}")
    for meeting in cancelled:
        print(f"cancelled meeting {meeting} (a cancellation went to its attendees)")
    print(f"{args.code} is read-only now; open {folder / 'record.html'} in a browser")
    return 0


LEDGER_COLUMNS = [Column("协作", 14), *ITEM_COLUMNS]


def export_ledger(context: Context, args: argparse.Namespace) -> int:
    if args.format == "xlsx" and args.out is None:
        raise UsageError("--format xlsx writes a file: give --out FILE.xlsx")
    app = context.app
    with app.db.transaction() as session:
        collab = find_collaboration(session, args.collab) if args.collab else None
        items = query_items(session, ItemFilter(collab=collab))
        trails = all_rounds(session, items)
        rows = [
            [item.collaboration.code, *item_row(item, trails.get(item.id, []))] for item in items
        ]
        codes = [collab.code] if collab else list(session.scalars(select(Collaboration.code)))
    sheet = Sheet("跟进台账", "跟进台账", LEDGER_COLUMNS, rows)
    if args.format == "xlsx":
        write_workbook([sheet], args.out, "跟进台账 " + ", ".join(codes))
        print(f"wrote {len(rows)} action items to {args.out}")  # stdout holds no data here
        return 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header for c in LEDGER_COLUMNS])
    writer.writerows([[_csv_value(v) for v in row] for row in rows])
    if args.out is None:
        sys.stdout.write(buffer.getvalue())
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8", newline="")
        print(f"wrote {len(rows)} action items to {args.out}")  # stdout holds no data here
    return 0


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return csv_safe(value) if isinstance(value, str) else str(value)


# Excel and LibreOffice read a cell starting with one of these as a formula
# (`=HYPERLINK(…)`, `+cmd|' /C calc'!A0`, `@SUM(…)`): OWASP's "CSV injection".
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """A text cell as text: one leading apostrophe where a spreadsheet would see a formula
    (the xlsx export marks such cells as strings instead)."""
    return "'" + text if text.startswith(_FORMULA_START) else text
