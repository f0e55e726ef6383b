"""`collabd outbox list|send`: what collabd has queued to mail, and sending it now."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from ..mail.send import send_due
from ..store.models import OutboxMessage, OutboxStatus
from .commands import HELP
from .context import Context
from .output import emit_json, table
from .views import outbox_view


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("outbox", help=HELP["outbox"])
    sub = parser.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    lst = sub.add_parser("list", help="list queued and sent mail")
    lst.add_argument("--status", choices=[s.value for s in OutboxStatus])
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=outbox_list)
    send = sub.add_parser("send", help="send every mail that is due now, then exit")
    send.add_argument("--json", action="store_true")
    send.set_defaults(handler=outbox_send)


def outbox_list(context: Context, args: argparse.Namespace) -> int:
    with context.app.db.transaction() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(args.limit)
        if args.status:
            query = query.where(OutboxMessage.status == args.status)
        views = [outbox_view(row) for row in reversed(list(session.scalars(query)))]
    if args.json:
        emit_json(views)
        return 0
    table(
        ["id", "status", "kind", "to", "subject", "attempts"],
        [[v["id"], v["status"], v["kind"], v["to"], v["subject"], v["attempts"]] for v in views],
    )
    return 0


def outbox_send(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    report = send_due(app.db, app.transport.outgoing, app.clock)
    if args.json:
        emit_json({"sent": report.sent, "deferred": report.deferred, "failed": report.failed})
    else:
        print(
            f"sent {len(report.sent)}, deferred {len(report.deferred)}, failed {len(report.failed)}"
        )
        for message_id, error in report.deferred + report.failed:
            print(f"  {message_id}: {error}")
    return 1 if report.failed else 0
