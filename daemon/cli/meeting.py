"""`collabd meeting schedule|update|cancel|list|show|find-time`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from ..calendar.scheduling import cancel, find_meeting, schedule, update
from ..calendar.specs import MeetingSpec, load_meeting_file
from ..calendar.views import meeting_view
from ..errors import UsageError
from ..ledger.collaborations import find_collaboration
from ..ledger.specs import parse_spec
from ..store.models import (
    AttendeeRole,
    HistoryEntry,
    Meeting,
    MeetingStatus,
    OutboxMessage,
    label,
)
from . import find_time
from .changed import print_history
from .commands import HELP
from .context import Context
from .output import emit_json, fields, table


class _DryRun(Exception):
    """Raised inside the transaction to roll it back once the mails are written to files."""


def _meeting_flags(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    parser.add_argument("--file", type=Path, help="a TOML file with the same keys as the flags")
    if creating:
        parser.add_argument("--collab", metavar="CODE", help="the collaboration")
    parser.add_argument("--title", help="会议主题")
    parser.add_argument(
        "--start", help="ISO 8601, e.g. 2026-11-25T14:00 (without an offset: configured zone)"
    )
    parser.add_argument(
        "--duration", type=int, metavar="MINUTES", help="length in minutes, e.g. 60"
    )
    parser.add_argument("--location", help="会议地点")
    parser.add_argument("--online-url", help="online meeting link")
    parser.add_argument("--host", help="主持人: mail address or name (default: the coordinator)")
    parser.add_argument("--recorder", help="记录人: mail address or name")
    parser.add_argument(
        "--attendee",
        action="append",
        metavar="WHO",
        help="a mail address, a name, or a participating department (its contact); repeatable",
    )
    parser.add_argument("--agenda", type=Path, metavar="FILE", help="agenda, Markdown or TOML")
    parser.add_argument(
        "--attach", action="append", type=Path, metavar="FILE", help="background file; repeatable"
    )
    parser.add_argument(
        "--urgent", action="store_true", help="waive the notice rule (needs --reason)"
    )
    parser.add_argument("--reason", help="why the short notice; recorded in the history")
    parser.add_argument(
        "--dry-run", action="store_true", help="write the mails to --out DIR, send nothing"
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="where --dry-run writes .eml")
    parser.add_argument("--json", action="store_true")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("meeting", help=HELP["meeting"])
    sub = parser.add_subparsers(dest="meeting_command", metavar="ACTION", required=True)

    sch = sub.add_parser(
        "schedule",
        help="schedule a meeting and send the invitations",
        description="Schedule a meeting: every attendee, the host and the coordinator get an "
        "invitation that Outlook, Foxmail and phone calendars add with one click, with the "
        "agenda and files. Give --collab, --title, --start and --duration (or --file, or "
        "--slot from `meeting find-time`).",
    )
    _meeting_flags(sch, creating=True)
    sch.add_argument(
        "--slot",
        type=int,
        metavar="N",
        help="slot N of the last `meeting find-time`: its start, length and people",
    )
    sch.add_argument(
        "--repeat",
        choices=("weekly",),
        help="a series: the same meeting every week until --until, statutory holidays skipped",
    )
    sch.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="last day of the series")
    sch.set_defaults(handler=meeting_schedule)
    find_time.register(sub)

    upd = sub.add_parser(
        "update",
        help="change time, place, attendees, agenda or files; calendars update in place",
        description="Change a scheduled meeting. Everyone's calendar entry is updated, not "
        "duplicated, and the mail says what changed; a change that keeps the time keeps "
        "everyone's answers.",
    )
    upd.add_argument("meeting", help="meeting number (see `meeting list`) or UID")
    _meeting_flags(upd, creating=False)
    upd.set_defaults(handler=meeting_update)

    can = sub.add_parser(
        "cancel", help="cancel a meeting: it is removed from every attendee's calendar"
    )
    can.add_argument("meeting", help="meeting number or UID")
    can.add_argument("--reason", default="", help="told to the attendees, kept in the history")
    can.add_argument("--dry-run", action="store_true", help="write the mails to --out DIR")
    can.add_argument("--out", type=Path, metavar="DIR", help="where --dry-run writes .eml")
    can.add_argument("--json", action="store_true")
    can.set_defaults(handler=meeting_cancel)

    lst = sub.add_parser("list", help="meetings with time, place and answers")
    lst.add_argument("--collab", metavar="CODE")
    lst.add_argument("--all", action="store_true", help="include cancelled and past meetings")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=meeting_list)

    show = sub.add_parser("show", help="one meeting: attendees with their RSVP, proposals, history")
    show.add_argument("meeting", help="meeting number or UID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=meeting_show)


def _spec(args: argparse.Namespace, base: dict | None = None) -> MeetingSpec:
    """The file's keys, then `base` (a find-time slot), then the flags given."""
    spec = load_meeting_file(args.file) if args.file else MeetingSpec()
    flags = {
        "collab": getattr(args, "collab", None),
        "title": args.title,
        "start": args.start,
        "duration": args.duration,
        "location": args.location,
        "online_url": args.online_url,
        "host": args.host,
        "recorder": args.recorder,
        "attendees": args.attendee,
        "agenda": str(args.agenda) if args.agenda else None,
        "attachments": [str(p) for p in args.attach] if args.attach else None,
        "reason": args.reason,
    }
    data = spec.model_dump()
    data.update({key: value for key, value in (base or {}).items() if value is not None})
    data.update({key: value for key, value in flags.items() if value is not None})
    data["urgent"] = spec.urgent or args.urgent
    return parse_spec(MeetingSpec, data, "command line")


def _run(context: Context, args: argparse.Namespace, operation) -> int:
    if args.dry_run and not args.out:
        raise UsageError("--dry-run needs --out DIR (where the .eml files go)")
    app = context.app
    written: list[Path] = []
    try:
        with app.db.transaction() as session:
            session.info["collabd.dry_run"] = bool(args.dry_run)
            before = session.scalar(select(func.max(OutboxMessage.id))) or 0
            outcome = operation(session)
            view = meeting_view(outcome.meeting, app.settings.tz)
            if args.dry_run:
                session.flush()
                rows = session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.id > before)
                    .order_by(OutboxMessage.id)
                )
                args.out.mkdir(parents=True, exist_ok=True)
                for number, row in enumerate(rows, start=1):
                    path = args.out / f"{number:02d}-{row.kind}-{row.recipients}.eml"
                    path.write_bytes(row.raw)
                    written.append(path)
                raise _DryRun
    except _DryRun:
        pass
    for warning in outcome.warnings:
        print(f"collabd: warning: {warning}", file=sys.stderr)
    if args.json:
        emit_json(
            {
                "meeting": view,
                "queued": 0 if args.dry_run else outcome.queued,
                "changes": outcome.changes,
                "warnings": outcome.warnings,
                "dry_run_files": [str(p) for p in written],
            }
        )
        return 0
    if args.dry_run:
        print(f"dry run: nothing saved or sent; {len(written)} mail(s) written to {args.out}:")
        for path in written:
            print(f"  {path}")
        return 0
    return outcome, view


def meeting_schedule(context: Context, args: argparse.Namespace) -> int:
    slot = find_time.slot_spec(context, args.slot) if args.slot is not None else None
    if slot and args.collab and args.collab != slot["collab"]:
        raise UsageError(
            f"--slot {args.slot} was found for collaboration {slot['collab']}, not {args.collab}"
        )
    spec = _spec(args, slot)
    if args.repeat or args.until:
        return _schedule_series(context, args, spec)
    result = _run(
        context, args, lambda session: schedule(session, context.app, spec, context.origin)
    )
    if isinstance(result, int):
        return result
    outcome, view = result
    print(
        f"meeting {view['id']} scheduled: {view['title']}, {view['start']}–{view['end'][11:]} "
        f"({view['timezone']}), {len(view['attendees'])} attendee(s); "
        f"{outcome.queued} invitation(s) queued"
    )
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def _schedule_series(context: Context, args: argparse.Namespace, spec: MeetingSpec) -> int:
    from ..calendar.repeat import schedule_series

    if not (args.repeat and args.until):
        raise UsageError("a series needs both --repeat weekly and --until YYYY-MM-DD")
    found: dict[str, list] = {}

    def operation(session):
        outcomes, skipped = schedule_series(
            session, context.app, spec, args.repeat, args.until, context.origin
        )
        found["views"] = [meeting_view(o.meeting, context.app.settings.tz) for o in outcomes]
        found["queued"] = [o.queued for o in outcomes]
        found["skipped"] = [context.local(s) for s in skipped]
        return outcomes[0]

    result = _run(context, args, operation)
    if isinstance(result, int):
        return result
    for view, queued in zip(found["views"], found["queued"], strict=True):
        print(
            f"meeting {view['id']} scheduled: {view['title']}, {view['start']}; "
            f"{queued} invitation(s) queued"
        )
    for skipped in found["skipped"]:
        print(f"skipped {skipped}: a statutory holiday or rest day")
    return 0


def meeting_update(context: Context, args: argparse.Namespace) -> int:
    spec = _spec(args)

    def operation(session):
        return update(
            session, context.app, find_meeting(session, args.meeting), spec, context.origin
        )

    result = _run(context, args, operation)
    if isinstance(result, int):
        return result
    outcome, view = result
    if not outcome.changes:
        print(f"meeting {view['id']}: nothing changed")
        return 0
    for line in outcome.changes:
        print(f"meeting {view['id']} {line}")
    print(f"sequence {view['sequence']}; {outcome.queued} mail(s) queued")
    return 0


def meeting_cancel(context: Context, args: argparse.Namespace) -> int:
    def operation(session):
        return cancel(
            session, context.app, find_meeting(session, args.meeting), context.origin, args.reason
        )

    result = _run(context, args, operation)
    if isinstance(result, int):
        return result
    outcome, view = result
    print(f"meeting {view['id']} cancelled; {outcome.queued} cancellation(s) queued")
    return 0


def _answers(view: dict, locale: str) -> str:
    return ", ".join(f"{count} {label(rsvp, locale)}" for rsvp, count in _rsvp_items(view))


def _rsvp_items(view: dict):
    from ..store.models import Rsvp

    return [(Rsvp(k), v) for k, v in sorted(view["rsvp_counts"].items())]


def meeting_list(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    with app.db.transaction() as session:
        query = select(Meeting).order_by(Meeting.starts_at, Meeting.id)
        if args.collab:
            query = query.where(
                Meeting.collaboration_id == find_collaboration(session, args.collab).id
            )
        if not args.all:
            query = query.where(Meeting.status != "cancelled", Meeting.starts_at >= app.clock.now())
        now = app.clock.now()
        views = [meeting_view(m, app.settings.tz, now) for m in session.scalars(query)]
    if args.json:
        emit_json(views)
        return 0
    table(
        ["#", "start", "meeting", "collab", "place", "status", "answers"],
        [
            [
                v["id"],
                v["start"],
                v["title"],
                v["collab"],
                v["location"] or v["online_url"],
                context.word(MeetingStatus(v["status"])),
                _answers(v, context.locale),
            ]
            for v in views
        ],
    )
    return 0


def meeting_show(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    with app.db.transaction() as session:
        meeting = find_meeting(session, args.meeting)
        view = meeting_view(meeting, app.settings.tz, app.clock.now())
        view["history"] = [
            {
                "at": h.at,
                "action": h.action,
                "field": h.field,
                "old": h.old_value,
                "new": h.new_value,
                "actor": h.actor,
                "source": h.source,
                "note": h.note,
            }
            for h in session.scalars(
                select(HistoryEntry)
                .where(HistoryEntry.entity == "meeting", HistoryEntry.entity_id == meeting.id)
                .order_by(HistoryEntry.id)
            )
        ]
    if args.json:
        emit_json(view)
        return 0
    fields(
        [
            ("meeting", f"{view['id']} {view['title']}"),
            ("collab", view["collab"] or "(not linked yet)"),
            ("when", f"{view['start']} – {view['end'][11:]} ({view['timezone']})"),
            ("where", view["location"] or "—"),
            ("online", view["online_url"] or "—"),
            ("host", view["host"] or "—"),
            ("recorder", view["recorder"] or "—"),
            ("organizer", view["organizer"]),
            ("status", context.word(MeetingStatus(view["status"]))),
            ("uid", f"{view['uid']} (sequence {view['sequence']})"),
            ("urgent", view["urgent_reason"] or "—"),
            ("files", ", ".join(a["filename"] for a in view["attachments"]) or "—"),
        ]
    )
    print("\nattendees")
    table(
        ["name", "email", "role", "answer", "at", "proposed", "comment"],
        [
            [
                a["name"],
                a["email"],
                context.word(AttendeeRole(a["role"])),
                context.word(a["rsvp"]),
                a["rsvp_at"],
                f"{a['proposed_start']}–{a['proposed_end'][11:]}" if a["proposed_start"] else None,
                a["comment"] or None,
            ]
            for a in view["attendees"]
        ],
    )
    if view["agenda"]:
        # no "(0 min)" when no item says how long it takes
        length = f" ({view['agenda_minutes']} min)" if view["agenda_minutes"] else ""
        print(f"\nagenda{length}")
        table(
            ["#", "topic", "owner", "min"],
            [[i["position"], i["topic"], i["owner"], i["minutes"]] for i in view["agenda"]],
        )
    print_history(context, view["history"])
    return 0
