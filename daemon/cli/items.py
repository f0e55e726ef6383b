"""`collabd items add|list|show|update|edit|cancel`.

The ledger's ORM (daemon/ledger/items, edits, people …) is imported by the handlers that
change or show one item: `items list` reads through SQL alone and starts without it."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DataError, UsageError
from ..store.enums import CLOSED_STATUSES, PRIORITY_WORDS, ItemStatus, Priority, label
from .changed import active_collaboration, print_changes, print_history, print_warnings
from .commands import HELP
from .context import Context
from .dates import day_argument
from .output import emit_json, fields, table
from .views import acceptance_views, history_view, item_view, verdict_word

STATUS_WORDS = {
    "未开始": "not_started",
    "进行中": "in_progress",
    "完成": "done",
    "已完成": "done",
    "阻塞": "blocked",
    "需支持": "needs_support",
    "延期": "delayed",
}


def _status(text: str) -> ItemStatus:
    value = STATUS_WORDS.get(text.strip(), text.strip().lower().replace("-", "_"))
    try:
        return ItemStatus(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown status {text!r}; use one of {', '.join(s.value for s in ItemStatus)}"
        ) from None


def _priority(text: str) -> Priority:
    try:
        return Priority(PRIORITY_WORDS.get(text.strip(), text.strip().lower()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown priority {text!r}; use high, normal or low"
        ) from None


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("items", help=HELP["items"])
    sub = parser.add_subparsers(dest="items_command", metavar="ACTION", required=True)

    add = sub.add_parser(
        "add",
        help="add an action item; its owner gets a mail",
        description="Add an action item to a collaboration. It gets the "
        "collaboration's next number (#N).",
    )
    add.add_argument(
        "--collab", required=True, metavar="CODE", help="the collaboration's code (collab list)"
    )
    add.add_argument(
        "--owner", required=True, help="负责人: mail address, name, or a participating department"
    )
    add.add_argument("description", help="任务描述")
    add.add_argument("--deadline", type=day_argument, help="截止日期: 2026-12-03 or 12月3日")
    add.add_argument(
        "--priority",
        type=_priority,
        default=Priority.NORMAL,
        help="high / normal / low (高 / 中 / 低)",
    )
    add.add_argument("--criteria", default="", help="完成标准: when is it done?")
    add.add_argument("--collaborator", action="append", default=[], help="协作人; repeatable")
    add.add_argument("--support", default="", help="所需支持")
    add.add_argument(
        "--depends-on",
        action="append",
        type=int,
        default=[],
        metavar="N",
        help="number of an item this one waits for; repeatable",
    )
    add.add_argument("--receiver", help="who accepts the result (default: the initiator)")
    add.add_argument("--department", help="the owner's department for this item")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=items_add)

    lst = sub.add_parser("list", help="list action items (the follow-up ledger, 跟进台账)")
    lst.add_argument("--collab", metavar="CODE", help="only this collaboration")
    lst.add_argument("--owner", help="mail address or name")
    lst.add_argument(
        "--status", type=_status, action="append", default=[], help="only this status; repeatable"
    )
    lst.add_argument(
        "--overdue",
        action="store_true",
        help="only open items past their deadline (today in the configured zone), in "
        "collaborations still running (archived ones no longer change)",
    )
    lst.add_argument(
        "--locale",
        choices=("zh-CN", "en"),
        help="words for status and acceptance (default: the --as person's, else zh-CN)",
    )
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=items_list)

    show = sub.add_parser("show", help="one item with its full history")
    show.add_argument("ref", help="CODE#N, or N with --collab")
    show.add_argument("--collab", metavar="CODE")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=items_show)

    upd = sub.add_parser(
        "update",
        help="record progress for the owner: status, %%, a note (as a reply would)",
        description="Record what the owner would otherwise reply: status, progress, a note. "
        "Done (完成) asks the receiver to accept the result. To change the owner, task, "
        "criteria or deadline with a reason, use `items edit`; to call an item off, "
        "`items cancel`.",
    )
    upd.add_argument("ref", help="CODE#N, or N with --collab")
    upd.add_argument("--collab", metavar="CODE", help="the collaboration's code (collab list)")
    upd.add_argument(
        "--status",
        type=_status,
        help="未开始 / 进行中 / 完成 / 阻塞 / 需支持 / 延期 (or not_started, in_progress, …)",
    )
    upd.add_argument("--progress", type=int, metavar="PERCENT", help="0 to 100")
    upd.add_argument("--deadline", type=day_argument, help="截止日期: 2026-12-03 or 12月3日")
    upd.add_argument("--priority", type=_priority, help="high / normal / low (高 / 中 / 低)")
    upd.add_argument("--note", help="备注, kept in the item's history")
    upd.add_argument("--json", action="store_true")
    upd.set_defaults(handler=items_update)

    edit = sub.add_parser(
        "edit",
        help="change an item after the start: owner (转交), task, criteria, deadline …",
        description="Change what an item is, who owns it or what it waits for. A new owner, "
        "the old one and the coordinator are told; other changes reach the owner. Every "
        "change is recorded with who made it (--as) and why (--reason).",
    )
    edit.add_argument("ref", help="CODE#N, or N with --collab")
    edit.add_argument("--collab", metavar="CODE")
    edit.add_argument("--owner", help="new 负责人: name, mail address or department")
    edit.add_argument(
        "--collaborator",
        action="append",
        help="协作人 (replaces the list; repeatable; --collaborator '' clears it)",
    )
    edit.add_argument("--task", help="任务描述")
    edit.add_argument("--criteria", help="完成标准")
    edit.add_argument("--receiver", help="who accepts the result")
    edit.add_argument("--priority", type=_priority)
    edit.add_argument(
        "--deadline", type=day_argument, help="截止日期: 2026-12-03 or 12月3日 (needs --reason)"
    )
    edit.add_argument("--support", help="所需支持")
    edit.add_argument(
        "--depends-on",
        action="append",
        type=int,
        metavar="N",
        help="an item this one waits for (replaces the list; repeatable; 0 clears it)",
    )
    edit.add_argument("--reason", default="", help="why; recorded in the history")
    edit.add_argument("--json", action="store_true")
    edit.set_defaults(handler=items_edit)

    cancel = sub.add_parser(
        "cancel",
        help="call an item off (取消): no more chasing, kept in the ledger as cancelled",
    )
    cancel.add_argument("ref", help="CODE#N, or N with --collab")
    cancel.add_argument("--collab", metavar="CODE")
    cancel.add_argument("--reason", required=True, help="why it is called off (told to the owner)")
    cancel.add_argument("--json", action="store_true")
    cancel.set_defaults(handler=items_cancel)

    imp = sub.add_parser(
        "import",
        help="bring an existing follow-up ledger (跟进台账, xlsx or csv) in",
        description="Read a 跟进台账 laid out like the seed table (任务名称 / 负责人 / 协助人 / "
        "所属部门 / 优先级 / 截止日期 / 状态 / 交付物 / 备注) or like `collabd export`, with "
        "Chinese or English headers. People are found by name, mail address or department. "
        "Every bad row is reported as FILE:ROW: column: what is wrong, and nothing is "
        "imported until every row is good. The owners of open items get their assignment mail.",
    )
    imp.add_argument("code", metavar="COLLAB")
    imp.add_argument("file", type=Path, metavar="FILE.xlsx|FILE.csv")
    imp.add_argument("--dry-run", action="store_true", help="check every row, import nothing")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=items_import)


def items_add(context: Context, args: argparse.Namespace) -> int:
    from ..ledger.collaborations import find_collaboration
    from ..ledger.specs import ItemSpec, parse_spec

    app = context.app
    context.check_rules()  # the rules will chase this item: a broken file stops here
    spec = parse_spec(
        ItemSpec,
        {
            "description": args.description,
            "owner": args.owner,
            "deadline": args.deadline,
            "priority": args.priority,
            "done_criteria": args.criteria,
            "collaborators": args.collaborator,
            "support": args.support,
            "depends_on": args.depends_on,
            "receiver": args.receiver,
            "department": args.department,
        },
        "command line",
    )
    with app.db.transaction() as session:
        collab = find_collaboration(session, args.collab)
        from ..announce import assign_items  # mail templates: only when adding

        (item,) = assign_items(session, app, collab, [spec], context.origin)
        view = item_view(item)
        warnings = _deadline_warnings(context, session, item)
    if args.json:
        emit_json({**view, "warnings": warnings} if warnings else view)
    else:
        print(
            f"added {view['ref']}: {view['description']} → {view['owner_name']} "
            f"<{view['owner']}>, due {view['deadline'] or '—'}; assignment mail queued"
        )
        print_warnings(warnings)
    return 0


def _deadline_warnings(context: Context, session, item) -> list[str]:
    """What a colleague would question about the item's deadline (rules/deadline_check.py),
    in zh-CN, the language of the people collabd serves; the change itself stands."""
    if item.deadline is None:
        return []
    from ..rules.deadline_check import item_deadline_warnings

    found = item_deadline_warnings(session, context.app, item)
    return [warning.say("zh-CN") for warning in found]


def items_list(context: Context, args: argparse.Namespace) -> int:
    from ..ledger.listing import Listing, list_items
    from ..store.reading import reading

    app = context.app
    # The ledger is the rules' input: a list that looks fine while the rules cannot chase
    # any of it would hide the one thing wrong.
    context.check_rules()
    today = app.clock.now().astimezone(app.settings.tz).date()
    collab_id, owner_id = _list_filter(context, args)
    with reading(app.settings.store_url, lambda: app.ledger) as sql:
        views = list_items(
            sql,
            Listing(
                collab_id=collab_id,
                owner_id=owner_id,
                statuses=tuple(status.value for status in args.status),
                overdue_on=today if args.overdue else None,
            ),
        )
    if args.json:
        emit_json(views)
        return 0
    locale = args.locale or context.locale
    table(
        [
            "item",
            "task",
            "owner",
            "department",
            "deadline",
            "priority",
            "status",
            "%",
            "done when",
            "support",
            "depends on",
            "acceptance",
        ],
        [
            [
                v["ref"],
                v["description"],
                v["owner_name"],
                v["department"],
                v["deadline"],
                label(Priority(v["priority"]), locale),
                label(ItemStatus(v["status"]), locale),
                v["progress"],
                v["done_criteria"] or "—",
                v["support_needed"] or "—",
                ", ".join(f"#{n}" for n in v["depends_on"]) or "—",
                verdict_word(v["acceptance"], locale),
            ]
            for v in views
        ],
    )
    return 0


def _list_filter(context: Context, args: argparse.Namespace) -> tuple[int | None, int | None]:
    """The ids of `--collab` and `--owner`: by code, mail address or a name only one
    person has, in plain SQL; anything else (unknown, ambiguous, a department named as the
    owner) is decided by the ledger's own lookups, which also say what is wrong."""
    from ..ledger.listing import collaboration_id, person_id
    from ..store.reading import reading

    app = context.app
    with reading(app.settings.store_url, lambda: app.ledger) as sql:
        collab_id = collaboration_id(sql, args.collab) if args.collab else None
        owner_id = person_id(sql, args.owner) if args.owner else None
    if (args.collab and collab_id is None) or (args.owner and owner_id is None):
        from ..ledger.collaborations import find_collaboration
        from ..ledger.people import find_person

        with app.db.transaction() as session:
            collab = find_collaboration(session, args.collab) if args.collab else None
            owner = find_person(session, args.owner, collab) if args.owner else None
            collab_id = collab.id if collab else None
            owner_id = owner.id if owner else None
    return collab_id, owner_id


def items_show(context: Context, args: argparse.Namespace) -> int:
    from ..ledger.items import find_item, item_history

    with context.app.db.transaction() as session:
        item = find_item(session, args.ref, args.collab)
        view = item_view(item)
        view["history"] = [history_view(h) for h in item_history(session, item)]
        from ..closing.acceptance import rounds

        view["acceptance"] = acceptance_views(rounds(session, item))  # deliverables, verdicts
    if args.json:
        emit_json(view)
        return 0
    view["updated_at"] = context.local(view["updated_at"])
    fields(
        [
            (key, ", ".join(map(str, value)) if isinstance(value, list) else value)
            for key, value in view.items()
            if key not in ("history", "acceptance")
        ]
    )
    _print_acceptance(context, view["acceptance"])
    print_history(context, view["history"])
    return 0


def _print_acceptance(context: Context, trail: list[dict]) -> None:
    """Deliverables and the acceptance trail (成果验收), round by round."""
    if not trail:
        return
    print("\ndeliverables")
    table(
        ["round", "file", "bytes", "sha256"],
        [
            [r["round"], d["file"], d["size"], d["sha256"][:16]]
            for r in trail
            for d in r["deliverables"]
        ],
    )
    print("\nacceptance")
    table(
        ["round", "receiver", "requested", "verdict", "decided", "note"],
        [
            [
                r["round"],
                r["receiver"],
                context.local(r["requested_at"]),
                r["verdict"],
                context.local(r["decided_at"]) if r["decided_at"] else None,
                r["note"],
            ]
            for r in trail
        ],
    )


def items_update(context: Context, args: argparse.Namespace) -> int:
    from ..ledger.items import ItemChange, find_item, update_item

    if args.status is ItemStatus.CANCELLED:
        return _cancel_from_update(context, args)
    change = ItemChange(
        status=args.status,
        progress=args.progress,
        deadline=args.deadline,
        priority=args.priority,
        note=args.note,
    )
    if not any(value is not None for value in vars(change).values()):
        raise UsageError(
            "nothing to change: give --status, --progress, --deadline, --priority or --note"
        )
    app = context.app
    if args.deadline is not None:
        context.check_rules()
    with app.db.transaction() as session:
        item = find_item(session, args.ref, args.collab)
        changes = update_item(session, app, item, change, context.origin)
        if any(name == "status" and new is ItemStatus.DONE for name, _, new in changes):
            # Done from the command line goes to acceptance too (daemon/closing).
            from ..closing.acceptance import deliver

            deliver(session, app, item, [], context.origin, just_done=True)
        view = item_view(item)
        moved = any(name == "deadline" for name, _, _ in changes)
        warnings = _deadline_warnings(context, session, item) if moved else []
    _print_changes(context, args, view, changes, warnings)
    return 0


def items_edit(context: Context, args: argparse.Namespace) -> int:
    from ..ledger.edits import ItemEdit, edit_item
    from ..ledger.items import find_item
    from ..ledger.people import find_person

    if args.deadline is not None and not args.reason.strip():
        raise UsageError('a new deadline needs a reason: add --reason "…"')
    app = context.app
    if args.deadline is not None:
        context.check_rules()
    origin = context.origin
    with app.db.transaction() as session:
        item = find_item(session, args.ref, args.collab)
        collab = item.collaboration

        def person(ref: str | None):
            return find_person(session, ref, collab) if ref else None

        edit = ItemEdit(
            owner=person(args.owner),
            collaborators=(
                tuple(person(ref) for ref in args.collaborator if ref.strip())
                if args.collaborator is not None
                else None
            ),
            description=args.task,
            done_criteria=args.criteria,
            receiver=person(args.receiver),
            priority=args.priority,
            deadline=args.deadline,
            support_needed=args.support,
            depends_on=(
                tuple(n for n in args.depends_on if n) if args.depends_on is not None else None
            ),
            reason=args.reason.strip(),
        )
        if edit.is_empty():
            raise UsageError(
                "nothing to change: give --owner, --collaborator, --task, --criteria, "
                "--receiver, --priority, --deadline, --support or --depends-on"
            )
        changes = edit_item(session, app, item, edit, origin)
        from ..announce.changes import item_changed as notify_item_changed  # mail templates

        notify_item_changed(session, app, item, changes, origin, edit.reason)
        view = item_view(item)
        moved = any(name == "deadline" for name, _, _ in changes)
        warnings = _deadline_warnings(context, session, item) if moved else []
    _print_changes(context, args, view, changes, warnings)
    return 0


def _cancel_from_update(context: Context, args: argparse.Namespace) -> int:
    """`update --status cancelled` is a cancellation: the same path as `items cancel`
    (owner and coordinator told, chasing withdrawn), never a bare status change. The note
    is its reason; other changes with it would be lost on a cancelled item, so refused."""
    hint = f'collabd items cancel {args.ref} --reason "…"'
    others = (args.progress, args.deadline, args.priority)
    if any(value is not None for value in others):
        raise UsageError(
            "a cancelled item no longer changes: cancel it alone, with its reason: " + hint
        )
    if not (args.note or "").strip():
        raise UsageError(f"an item is called off with its reason, and its owner is told: {hint}")
    args.reason = args.note
    return items_cancel(context, args)


def items_cancel(context: Context, args: argparse.Namespace) -> int:
    from ..ledger.edits import cancel_item
    from ..ledger.items import find_item

    app = context.app
    origin = context.origin
    with app.db.transaction() as session:
        item = find_item(session, args.ref, args.collab)
        done = cancel_item(session, app, item, args.reason, origin)
        if done:
            from ..announce.changes import item_cancelled as notify_item_cancelled

            notify_item_cancelled(session, app, item, args.reason.strip(), origin)
        view = item_view(item)
    if args.json:
        emit_json({"item": view, "cancelled": done})
    elif done:
        print(f"{view['ref']} cancelled: {args.reason.strip()}; owner and coordinator told")
    else:
        print(f"{view['ref']} was already cancelled")
    return 0


def _print_changes(
    context: Context,
    args: argparse.Namespace,
    view: dict,
    changes: list,
    warnings: list[str] = (),
) -> None:
    print_changes(
        args,
        view["ref"],
        changes,
        locale=context.locale,
        head={"item": view},
        tail={"warnings": list(warnings)},
        warnings=warnings,
    )


def items_import(context: Context, args: argparse.Namespace) -> int:
    from ..announce import notices
    from ..archive.ledger_import import apply, check

    app = context.app
    today = app.clock.now().astimezone(app.settings.tz).date()
    with app.db.transaction() as session:
        collab = active_collaboration(session, args.code)
        checked = check(session, collab, args.file, today)
        if checked.problems:
            raise DataError(
                f"{args.file}: {len(checked.problems)} problem(s); nothing was imported\n"
                + "\n".join(checked.problems)
            )
        refs: list[str] = []
        if not args.dry_run:
            items = apply(session, app, collab, checked.rows, context.origin)
            open_items = [i for i in items if i.status not in CLOSED_STATUSES]
            if open_items:
                notices.items_assigned(session, app, open_items)
            refs = [item.ref for item in items]
    if args.json:
        emit_json(
            {
                "collab": args.code,
                "rows": len(checked.rows),
                "imported": refs,
                "dry_run": args.dry_run,
                "ignored_columns": checked.ignored,
            }
        )
        return 0
    for name in checked.ignored:
        print(f"{args.file}: column {name!r} is not one collabd keeps; left out")
    if args.dry_run:
        print(f"{args.file}: {len(checked.rows)} rows are good; nothing imported (--dry-run)")
    else:
        span = f" ({refs[0]} … {refs[-1]})" if refs else ""
        print(f"imported {len(refs)} action items into {args.code}{span}; owners told")
    return 0
