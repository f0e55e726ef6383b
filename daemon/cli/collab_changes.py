"""`collabd collab edit|add-department|edit-department|remove-department|delete|cancel`:
changing a collaboration after the start. Each change is recorded with who made it (--as)
and told to the people it affects (daemon/announce/collab_changes.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..ledger.collaborations import find_collaboration
from ..ledger.people import find_department, find_person
from ..ledger.specs import ROLE_WORDS
from ..store.models import ParticipantRole
from .changed import active_collaboration, print_changes
from .context import Context
from .dates import day_argument
from .output import emit_json


def _role(text: str) -> ParticipantRole:
    try:
        return ParticipantRole(ROLE_WORDS.get(text.strip(), text.strip().lower()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown role {text!r}; use lead, support or observer (主导 / 配合 / 监督)"
        ) from None


def register_changes(sub: argparse._SubParsersAction) -> None:
    edit = sub.add_parser(
        "edit",
        help="change goal, background, dates, theme or coordinator; everyone involved is told",
    )
    edit.add_argument("code", metavar="COLLAB")
    edit.add_argument("--theme", help="协作主题")
    edit.add_argument("--goal", help="协作目标")
    edit.add_argument("--background", help="背景材料 (text)")
    edit.add_argument("--background-file", type=Path, metavar="FILE", help="背景材料 from a file")
    edit.add_argument("--start", type=day_argument, help="start date: 2026-12-03 or 12月3日")
    edit.add_argument(
        "--end", type=day_argument, help="end date: 2026-12-03 or 12月3日 (not before the start)"
    )
    edit.add_argument("--coordinator", help="new coordinator: name or mail address")
    edit.add_argument("--json", action="store_true")
    edit.set_defaults(handler=collab_edit)

    add = sub.add_parser(
        "add-department", help="a department joins; its contact gets an introduction"
    )
    add.add_argument("code", metavar="COLLAB")
    add.add_argument("department")
    add.add_argument("--contact", required=True, help="对接人: name or mail address")
    add.add_argument(
        "--role", type=_role, default=ParticipantRole.SUPPORT, help="lead/support/observer"
    )
    add.add_argument("--duties", default="", help="职责")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=collab_add_department)

    change = sub.add_parser("edit-department", help="change a department's contact, role or duties")
    change.add_argument("code", metavar="COLLAB")
    change.add_argument("department")
    change.add_argument("--contact", help="new 对接人: name or mail address")
    change.add_argument("--role", type=_role, help="lead/support/observer (主导/配合/监督)")
    change.add_argument("--duties", help="职责")
    change.add_argument("--json", action="store_true")
    change.set_defaults(handler=collab_edit_department)

    remove = sub.add_parser(
        "remove-department",
        help="a department leaves (refused while it owns open items); its contact is told",
    )
    remove.add_argument("code", metavar="COLLAB")
    remove.add_argument("department")
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(handler=collab_remove_department)

    delete = sub.add_parser(
        "delete",
        help="remove a mistaken collaboration that has sent nothing yet",
        description="Remove a collaboration created by mistake, with its queued mail, items "
        "and meetings. Only while none of its mail has been sent; after that, use "
        "`collab cancel`. The history keeps a row saying who deleted it.",
    )
    delete.add_argument("code", metavar="COLLAB")
    delete.add_argument("--json", action="store_true")
    delete.set_defaults(handler=collab_delete)

    cancel = sub.add_parser(
        "cancel",
        help="call a collaboration off (取消): kept read-only and archived as cancelled",
        description="Call off a collaboration that has started: its open items are cancelled, "
        "its coming meetings cancelled in everyone's calendar, nobody is chased again, "
        "everyone involved is told why, and its record is archived as cancelled.",
    )
    cancel.add_argument("code", metavar="COLLAB")
    cancel.add_argument("--reason", required=True, help="why (told to everyone involved)")
    cancel.add_argument(
        "--out", type=Path, metavar="DIR", help="archive here (default: archive.root)"
    )
    cancel.add_argument("--json", action="store_true")
    cancel.set_defaults(handler=collab_cancel)


def _print(
    context: Context, args: argparse.Namespace, code: str, changes: list, queued: int
) -> None:
    print_changes(
        args,
        code,
        changes,
        locale=context.locale,
        head={"collab": code},
        tail={"mails": queued},
        empty="—",
        after=f"{queued} mail(s) queued to the people concerned",
    )


def collab_edit(context: Context, args: argparse.Namespace) -> int:
    from ..announce.collab_changes import edit
    from ..ledger.collab_edits import CollabEdit

    background = args.background
    if args.background_file is not None:
        try:
            background = args.background_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--background-file {args.background_file}: {exc}") from None
    app = context.app
    with app.db.transaction() as session:
        collab = active_collaboration(session, args.code)
        wanted = CollabEdit(
            theme=args.theme,
            goal=args.goal,
            background=background,
            start_date=args.start,
            end_date=args.end,
            coordinator=find_person(session, args.coordinator) if args.coordinator else None,
        )
        if wanted.is_empty():
            raise UsageError(
                "nothing to change: give --theme, --goal, --background, --start, --end "
                "or --coordinator"
            )
        changes, queued = edit(session, app, collab, wanted, context.origin)
    _print(context, args, args.code, changes, queued)
    return 0


def collab_add_department(context: Context, args: argparse.Namespace) -> int:
    from ..announce.collab_changes import add_department

    app = context.app
    with app.db.transaction() as session:
        collab = active_collaboration(session, args.code)
        department = find_department(session, args.department)
        contact = find_person(session, args.contact)
        _, queued = add_department(
            session, app, collab, department, contact, args.role, args.duties, context.origin
        )
        role = context.word(args.role)  # 配合, not support
        change = ("participant", None, f"{department.name} ({role}): {contact.name}")
    _print(context, args, args.code, [change], queued)
    return 0


def collab_edit_department(context: Context, args: argparse.Namespace) -> int:
    from ..announce.collab_changes import change_department

    if args.contact is None and args.role is None and args.duties is None:
        raise UsageError("nothing to change: give --contact, --role or --duties")
    app = context.app
    with app.db.transaction() as session:
        collab = active_collaboration(session, args.code)
        department = find_department(session, args.department)
        changes, queued = change_department(
            session,
            app,
            collab,
            department,
            context.origin,
            contact=find_person(session, args.contact) if args.contact else None,
            role=args.role,
            duties=args.duties,
        )
        # 对接人（研发中心）：张伟 → 李娜
        changes = [(f"{name}:{department.name}", old, new) for name, old, new in changes]
    _print(context, args, args.code, changes, queued)
    return 0


def collab_remove_department(context: Context, args: argparse.Namespace) -> int:
    from ..announce.collab_changes import remove_department

    app = context.app
    with app.db.transaction() as session:
        collab = active_collaboration(session, args.code)
        department = find_department(session, args.department)
        queued = remove_department(session, app, collab, department, context.origin)
    _print(context, args, args.code, [("participant", department.name, None)], queued)
    return 0


def collab_delete(context: Context, args: argparse.Namespace) -> int:
    from ..ledger.collab_edits import delete_collaboration

    app = context.app
    with app.db.transaction() as session:
        # not active_collaboration: what decides is whether it has sent anything (a
        # collaboration archived before any mail went out may still be removed)
        collab = find_collaboration(session, args.code)
        dropped = delete_collaboration(session, app, collab, context.origin)
    if args.json:
        emit_json({"collab": args.code, "deleted": True, "mails_dropped": dropped})
    else:
        print(f"deleted {args.code}; {dropped} queued mail(s) dropped, none had been sent")
    return 0


def collab_cancel(context: Context, args: argparse.Namespace) -> int:
    from ..announce.collab_changes import cancel
    from ..archive.folder import write_archive

    app = context.app
    with app.db.transaction() as session:
        collab = active_collaboration(session, args.code)
        items, queued, meetings = cancel(session, app, collab, args.reason, context.origin)
        refs = [item.ref for item in items]
    with app.db.transaction() as session:  # the record as it now stands, read-only
        folder = write_archive(session, app, args.code, args.out, context.origin)
    if args.json:
        emit_json(
            {
                "collab": args.code,
                "status": "cancelled",
                "items_cancelled": refs,
                "meetings_cancelled": meetings,
                "mails": queued,
                "archive": str(folder),
            }
        )
    else:
        print(
            f"{args.code} cancelled: {len(refs)} open item(s) cancelled, {meetings} meeting(s) "
            f"cancelled, {queued} mail(s) queued; archived as cancelled in {folder}"
        )
    return 0
