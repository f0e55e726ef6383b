"""`collabd people import|list`."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import select

from ..ledger.people import import_people
from ..store.models import Person
from .commands import HELP
from .context import Context
from .output import emit_json, table
from .views import person_view


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("people", help=HELP["people"])
    sub = parser.add_subparsers(dest="people_command", metavar="ACTION", required=True)
    imp = sub.add_parser(
        "import",
        help="import or update people from a CSV file",
        description="Import people from a CSV file with the columns name,email,department,"
        "locale,head,leader (head and leader are mail addresses). UTF-8 with or "
        "without BOM, as Excel saves it. Existing people (same email) are updated. "
        "A bad row is reported with its line number and nothing is imported.",
    )
    imp.add_argument("file", type=Path, metavar="FILE.csv")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(handler=people_import)
    lst = sub.add_parser("list", help="list people")
    lst.add_argument("--department", help="only this department")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=people_list)


def people_import(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    with app.db.transaction() as session:
        report = import_people(session, args.file, context.origin, app.clock.now())
    if args.json:
        emit_json(vars(report))
        return 0
    for warning in report.warnings:
        print(f"warning: {warning}")
    print(
        f"imported {args.file}: {len(report.created)} new, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )
    return 0


def people_list(context: Context, args: argparse.Namespace) -> int:
    with context.app.db.transaction() as session:
        people = [
            person_view(p)
            for p in session.scalars(select(Person).order_by(Person.id))
            if not args.department or (p.department and p.department.name == args.department)
        ]
    if args.json:
        emit_json(people)
        return 0
    table(
        ["name", "email", "department", "locale", "head", "leader"],
        [list(p.values()) for p in people],
    )
    return 0
