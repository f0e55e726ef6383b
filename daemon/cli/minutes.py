"""`collabd minutes publish|show|request|template`: the meeting record (会议纪要)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..minutes import publish_minutes, read_minutes_file, request_minutes
from ..minutes.form import empty_form, filled_form, render_form
from ..minutes.publish import current_minutes
from ..minutes.views import find_meeting, minutes_view
from ..store.models import Locale
from .commands import HELP
from .context import Context
from .output import emit_json, fields, table


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("minutes", help=HELP["minutes"])
    sub = parser.add_subparsers(dest="minutes_command", metavar="ACTION", required=True)

    publish = sub.add_parser(
        "publish",
        help="publish minutes from a Markdown or TOML file (again: a corrected version)",
        description="Read the filled minutes form from FILE (.md/.txt as in the request mail, "
        "or .toml), match owners and dates, and publish: the action items get the "
        "collaboration's next numbers and every attendee is asked to confirm. A second "
        "publish supersedes the current version and asks again only those it affects. "
        "Any unreadable line is reported and nothing is published (exit 65).",
    )
    publish.add_argument("meeting", metavar="MEETING", help="meeting number or calendar UID")
    publish.add_argument("file", type=Path, metavar="FILE")
    publish.add_argument("--json", action="store_true")
    publish.set_defaults(handler=minutes_publish)

    show = sub.add_parser("show", help="the minutes in force and each attendee's confirmation")
    show.add_argument("meeting", metavar="MEETING")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=minutes_show)

    request = sub.add_parser(
        "request",
        help="mail the recorder the minutes form (again)",
        description="collabd asks by itself when a meeting ends (`collabd tick`); this sends "
        "the request now, or once more if it was sent already.",
    )
    request.add_argument("meeting", metavar="MEETING")
    request.add_argument("--json", action="store_true")
    request.set_defaults(handler=minutes_request)

    template = sub.add_parser(
        "template",
        help="print the fill-in minutes form for a meeting",
        description="Print the form the recorder fills (prefilled with the meeting's basics, "
        "attendees and agenda; with --current, the minutes in force, ready to correct).",
    )
    template.add_argument("meeting", metavar="MEETING")
    template.add_argument("--locale", choices=[loc.value for loc in Locale])
    template.add_argument("--current", action="store_true", help="fill in the current version")
    template.set_defaults(handler=minutes_template)


def minutes_publish(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    with app.db.transaction() as session:
        meeting = find_meeting(session, args.meeting)
        resolved, text = read_minutes_file(session, meeting, args.file)
        published = publish_minutes(
            session, app, meeting, resolved, raw_text=text, origin=context.origin
        )
        view = minutes_view(session, meeting)
        view["created"] = [f"{meeting.collaboration.code}#{i.number}" for i in published.created]
        view["changed"] = [f"{meeting.collaboration.code}#{i.number}" for i in published.changed]
        view["asked"] = [p.email for p in published.asked]
        view["next_meeting_done"] = published.next_meeting  # 下次会议: scheduled, or asked
    if args.json:
        emit_json(view)
        return 0
    print(
        f"published minutes v{view['version']} of meeting {view['meeting']} ({view['title']}): "
        f"new items {', '.join(view['created']) or 'none'}"
        + (f", changed {', '.join(view['changed'])}" if view["changed"] else "")
        + f"; {len(view['asked'])} asked to confirm; mails queued"
    )
    if view["next_meeting_done"]:
        print(f"next meeting (下次会议): {view['next_meeting_done']}")
    return 0


def minutes_show(context: Context, args: argparse.Namespace) -> int:
    with context.app.db.transaction() as session:
        view = minutes_view(session, find_meeting(session, args.meeting))
    if args.json:
        emit_json(view)
        return 0
    fields(
        [
            ("meeting", f"{view['meeting']} {view['title']} ({view['collaboration']})"),
            ("starts", context.local(view["starts_at"])),
            ("recorder", view["recorder"]),
            ("requested", context.local(view["requested_at"]) if view["requested_at"] else None),
            ("version", view["version"] or "no minutes yet"),
            ("published", context.local(view["published_at"]) if view["published_at"] else None),
            ("source", view["source"]),
        ]
    )
    if view["items"]:
        print("\naction items")
        table(
            ["item", "task", "owner", "deadline", "priority"],
            [
                [i["ref"], i["description"], i["owner"], i["deadline"], i["priority"]]
                for i in view["items"]
            ],
        )
    if view["confirmations"]:
        print("\nconfirmations")
        table(
            ["attendee", "state", "how", "answered", "note"],
            [
                [
                    f"{c['name']} <{c['email']}>",
                    c["state"],
                    c["settled_by"] or "—",
                    context.local(c["answered_at"]) if c["answered_at"] else "—",
                    c["note"],
                ]
                for c in view["confirmations"]
            ],
        )
    return 0


def minutes_request(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    with app.db.transaction() as session:
        meeting = find_meeting(session, args.meeting)
        request = request_minutes(session, app, meeting, again=True)
        assert request is not None
        view = {
            "meeting": meeting.id,
            "recorder": meeting.recorder.email,
            "requests_sent": request.sent_count,
        }
    if args.json:
        emit_json(view)
    else:
        print(
            f"minutes request #{view['requests_sent']} for meeting {view['meeting']} "
            f"queued to {view['recorder']}"
        )
    return 0


def minutes_template(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    with app.db.transaction() as session:
        meeting = find_meeting(session, args.meeting)
        locale = args.locale or (meeting.recorder.locale if meeting.recorder else Locale.ZH_CN)
        current = current_minutes(session, meeting) if args.current else None
        form = filled_form(current, locale) if current else empty_form(locale)
        print(render_form(app.renderer, meeting, form, locale), end="")
    return 0
