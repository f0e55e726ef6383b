"""`collabd collab create|list|show|edit|add-department|edit-department|remove-department|
delete|cancel` (and `close`, from cli/archive.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import select

from ..announce import start_collaboration
from ..errors import UsageError
from ..ledger.collaborations import find_collaboration
from ..ledger.items import ItemFilter, query_items
from ..ledger.specs import CollaborationSpec, load_collaboration_file, parse_spec
from ..store.models import (
    Collaboration,
    CollabStatus,
    HistoryEntry,
    ItemStatus,
    ParticipantRole,
    Priority,
)
from .archive import add_close_command
from .commands import HELP
from .context import Context
from .dates import day_argument
from .output import emit_json, fields, table
from .views import collab_view, history_view


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("collab", help=HELP["collab"])
    sub = parser.add_subparsers(dest="collab_command", metavar="ACTION", required=True)

    create = sub.add_parser(
        "create",
        help="start a collaboration (flags, or --file with the whole of it)",
        description="Start a collaboration. Either describe it with flags, or give --file with "
        "a TOML file holding everything: theme, goal, dates, initiator, "
        "participants with their contact and role, and the first action items "
        "(see config/collaboration.example.toml). Everyone involved gets a "
        "kick-off mail; owners get their items.",
    )
    create.add_argument(
        "--file",
        type=Path,
        metavar="FILE.toml",
        help="the whole collaboration in one file (config/collaboration.example.toml)",
    )
    create.add_argument("--code", help="short name used in commands, e.g. v2-launch")
    create.add_argument("--theme", help="协作主题")
    create.add_argument("--goal", help="协作目标", default="")
    create.add_argument("--start", type=day_argument, help="start date: 2026-12-03 or 12月3日")
    create.add_argument("--end", type=day_argument, help="end date: 2026-12-03 or 12月3日")
    create.add_argument("--initiator", help="发起人: mail address or name")
    create.add_argument("--department", help="initiating department (default: the initiator's)")
    create.add_argument(
        "--coordinator",
        help="协调人, who runs it and hears of every change: name or mail address "
        "(default: the initiator)",
    )
    create.add_argument(
        "--participant",
        action="append",
        default=[],
        metavar="DEPT:CONTACT[:ROLE]",
        help="a participating department, its contact person and role "
        "(lead/support/observer or 主导/配合/监督; default support); repeatable",
    )
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=collab_create)

    lst = sub.add_parser("list", help="list collaborations")
    lst.add_argument("--status", choices=[s.value for s in CollabStatus])
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=collab_list)

    show = sub.add_parser("show", help="one collaboration: participants, items, recent history")
    show.add_argument("code", metavar="COLLAB", help="the collaboration's code, e.g. v2-launch")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=collab_show)

    add_close_command(sub)  # `collab close`: the retrospective (cli/archive.py)
    from .collab_changes import register_changes  # edit, departments, delete, cancel

    register_changes(sub)


def _spec_from_flags(args: argparse.Namespace) -> CollaborationSpec:
    if not args.theme or not args.initiator:
        raise UsageError("collab create needs --theme and --initiator (or --file FILE.toml)")
    participants = []
    for text in args.participant:
        parts = [p.strip() for p in text.split(":")]
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"--participant {text!r}: write DEPARTMENT:CONTACT[:ROLE]")
        participant = {"department": parts[0], "contact": parts[1]}
        if len(parts) == 3:
            participant["role"] = parts[2]
        participants.append(participant)
    data = {
        "code": args.code,
        "theme": args.theme,
        "goal": args.goal,
        "start": args.start,
        "end": args.end,
        "initiator": args.initiator,
        "department": args.department,
        "coordinator": args.coordinator,
        "participants": participants,
    }
    if args.start and args.end and args.end < args.start:
        raise UsageError(
            f"--end {args.end} is before --start {args.start}: "
            "a collaboration cannot end before it starts"
        )
    return parse_spec(
        CollaborationSpec, {k: v for k, v in data.items() if v is not None}, "command line"
    )


def collab_create(context: Context, args: argparse.Namespace) -> int:
    spec = load_collaboration_file(args.file) if args.file else _spec_from_flags(args)
    app = context.app
    with app.db.transaction() as session:
        collab = start_collaboration(session, app, spec, context.origin)
        view = collab_view(collab, query_items(session, ItemFilter(collab=collab)))
    if args.json:
        emit_json(view)
    else:
        print(
            f"created collaboration {view['code']}: {view['theme']} "
            f"({len(view['participants'])} departments, {len(view['items'])} action items); "
            "kick-off mails queued"
        )
    return 0


def collab_list(context: Context, args: argparse.Namespace) -> int:
    with context.app.db.transaction() as session:
        query = select(Collaboration).order_by(Collaboration.id)
        if args.status:
            query = query.where(Collaboration.status == args.status)
        else:  # a deleted one was a mistake: listed only when asked for
            query = query.where(Collaboration.status != CollabStatus.DELETED)
        views = [collab_view(c) for c in session.scalars(query)]
    if args.json:
        emit_json(views)
        return 0
    table(
        ["code", "theme", "status", "start", "end", "initiator", "items"],
        [
            [
                v["code"],
                v["theme"],
                context.word(CollabStatus(v["status"])),
                v["start"],
                v["end"],
                v["initiator"],
                v["item_count"],
            ]
            for v in views
        ],
    )
    return 0


def collab_show(context: Context, args: argparse.Namespace) -> int:
    with context.app.db.transaction() as session:
        collab = find_collaboration(session, args.code)
        view = collab_view(collab, query_items(session, ItemFilter(collab=collab)))
        recent = session.scalars(
            select(HistoryEntry)
            .where(HistoryEntry.collaboration_id == collab.id)
            .order_by(HistoryEntry.id.desc())
            .limit(15)
        )
        view["history"] = [history_view(h) for h in reversed(list(recent))]
    if args.json:
        emit_json(view)
        return 0
    fields(
        [
            ("协作 / collab", f"{view['code']}  {view['theme']}"),
            ("目标 / goal", view["goal"]),
            ("起止 / dates", f"{view['start'] or '—'} → {view['end'] or '—'}"),
            ("状态 / status", context.word(CollabStatus(view["status"]))),
            ("发起 / initiator", f"{view['initiator']} ({view['initiating_department']})"),
            ("协调 / coordinator", view["coordinator"]),
        ]
    )
    print("\n参与部门 / participants")
    table(
        ["department", "role", "contact", "duties"],
        [
            [
                p["department"],
                context.word(ParticipantRole(p["role"])),
                f"{p['contact_name']} <{p['contact']}>",
                p["duties"],
            ]
            for p in view["participants"]
        ],
    )
    print("\n行动项 / action items")
    table(
        ["#", "task", "owner", "deadline", "priority", "status", "%"],
        [
            [
                f"#{i['number']}",
                i["description"],
                i["owner_name"],
                i["deadline"],
                context.word(Priority(i["priority"])),
                context.word(ItemStatus(i["status"])),
                i["progress"],
            ]
            for i in view["items"]
        ],
    )
    print("\n最近记录 / recent history")
    table(
        ["at", "what", "actor", "source"],
        [
            [context.local(h["at"]), _what(h, context), h["actor"], h["source"]]
            for h in view["history"]
        ],
    )
    return 0


ENTITY_WORDS = {
    "item": ("行动项", "item"),
    "meeting": ("会议", "meeting"),
    "collaboration": ("协作", "collaboration"),
    "minutes": ("纪要", "minutes"),
}


def _what(h: dict, context: Context) -> str:
    words = ENTITY_WORDS.get(h["entity"])
    entity = (words[1] if context.locale == "en" else words[0]) if words else h["entity"]
    return f"{entity} {context.history(h)}"
