"""`collabd db upgrade|current`: the ledger's schema."""

from __future__ import annotations

import argparse

from ..calendar.files import move_blobs_to_files
from ..store import Database, current_revision, head_revision, upgrade
from .commands import HELP
from .context import Context


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("db", help=HELP["db"])
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    sub.add_parser(
        "upgrade",
        help="create the ledger or migrate it to this version's schema",
        description="Create the ledger (a fresh database) or migrate it to the head "
        "revision. Safe to run any number of times; on PostgreSQL, "
        "replicas starting together take turns.",
    ).set_defaults(handler=db_upgrade)
    sub.add_parser("current", help="show the schema revision of the ledger").set_defaults(
        handler=db_current
    )


def db_upgrade(context: Context, args: argparse.Namespace) -> int:
    context.settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(context.settings.store_url)
    try:
        before, after = upgrade(database.engine)
        # Data, not schema: meeting files an older collabd kept in the ledger move to the
        # data directory (docs/security.md, "Calendar mail"). Safe to run again: none left.
        with database.transaction() as session:
            moved = move_blobs_to_files(session, context.settings.data_dir)
    finally:
        database.dispose()
    if before == after:
        print(f"ledger already at revision {after}")
    else:
        print(f"ledger upgraded: {before or 'empty'} → {after}")
    if moved:
        print(f"{moved} meeting file(s) moved from the ledger to {context.settings.data_dir}")
    return 0


def db_current(context: Context, args: argparse.Namespace) -> int:
    database = Database(context.settings.store_url)
    try:
        current = current_revision(database.engine)
    finally:
        database.dispose()
    head = head_revision()
    print(
        f"{current or 'empty'} (this collabd: {head}"
        f"{', up to date' if current == head else ', run `collabd db upgrade`'})"
    )
    return 0 if current == head else 1
