"""`collabd meeting find-time`, and `meeting schedule --slot N` taking one of its slots.

The slots of the last find-time are kept in the data directory (find-time.json) with the
people and the length they were found for, so `--slot N` schedules exactly what was shown.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..durations import Duration
from ..errors import UsageError
from .context import Context
from .output import emit_json, table

if TYPE_CHECKING:  # imported when the command runs: `meeting schedule` need not load them
    from ..calendar.find_time import FindTimeRequest, FindTimeResult
    from ..calendar.free_time import Slot

_WEEKDAYS = "一二三四五六日"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "find-time",
        help="find the slots most people can come to, from the calendar's free/busy",
        description="Ask the calendar (calendar.backend = graph or ews) for everyone's free/busy "
        "and list the best slots within working days and work hours, honouring the notice "
        "rule: first those the host and the recorder can come to, then by how many can. "
        "Take one with `meeting schedule --slot N --title …`.",
    )
    parser.add_argument("--collab", metavar="CODE", required=True, help="the collaboration")
    parser.add_argument("--duration", type=int, metavar="MINUTES", required=True)
    parser.add_argument(
        "--attendee",
        action="append",
        metavar="WHO",
        help="a mail address, a name, or a participating department (its contact); repeatable",
    )
    parser.add_argument("--host", help="主持人 (default: the coordinator); required to attend")
    parser.add_argument("--recorder", help="记录人; required to attend")
    parser.add_argument(
        "--within",
        default="5wd",
        metavar="DURATION",
        help="how far ahead to look from the earliest start, e.g. 5wd (working days), 2w",
    )
    parser.add_argument(
        "--earliest", metavar="WHEN", help="ISO 8601; never before the notice rule allows"
    )
    parser.add_argument("--top", type=int, default=5, metavar="N", help="slots to list")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=meeting_find_time)


def meeting_find_time(context: Context, args: argparse.Namespace) -> int:
    from ..calendar.find_time import FindTimeRequest, find_time

    try:
        within = Duration.parse(args.within)
    except ValueError as exc:
        raise UsageError(f"--within {args.within}: {exc}") from None
    request = FindTimeRequest(
        collab=args.collab,
        duration=args.duration,
        attendees=tuple(args.attendee or ()),
        host=args.host,
        recorder=args.recorder,
        within=within,
        earliest=args.earliest,
    )
    app = context.app
    with app.db.transaction() as session:
        result = find_time(session, app, request)
    best = result.slots[: max(1, args.top)]
    _save(context, request, best)
    if args.json:
        emit_json(_as_json(result, best))
        return 0
    _print(context, result, best)
    return 0


def _print(context: Context, result: FindTimeResult, best: list[Slot]) -> None:
    from ..rules.config import active_rules

    calendar = active_rules(context.app).calendar
    start, until = result.window
    total = len(result.invitees)
    required = [f"{p.name} <{p.email}>" for p in result.invitees if p.required]
    print(
        f"free/busy of {total} people from the {context.settings.calendar.backend} calendar, "
        f"{context.local(start)} – {context.local(until)} ({context.settings.daemon.timezone}); "
        f"the notice rule allows {context.local(result.notice_start)} at the earliest"
    )
    print(f"required: {', '.join(required)}")
    if not best:
        print("no slot: no working time of that length in the window; try a longer --within")
        return
    rows = []
    for number, slot in enumerate(best, start=1):
        local = slot.start.astimezone(context.settings.tz)
        day = calendar.info(local.date())
        # 调休上班 on a make-up day; the slot's day is a working day
        note = "" if day.zh.startswith("工作日") else f" ({day.zh.split('（')[0]})"
        when = (
            f"{local:%Y-%m-%d} 周{_WEEKDAYS[local.weekday()]} {local:%H:%M}–"
            f"{slot.end.astimezone(context.settings.tz):%H:%M}{note}"
        )
        busy = ", ".join(f"{who.name} ({status})" for who, status in slot.busy) or "—"
        unknown = ", ".join(who.name for who in slot.unknown)
        rows.append([number, when, f"{len(slot.free)}/{total}", busy, unknown or None])
    table(["#", "when", "can come", "busy", "free/busy unknown"], rows)
    print('take one: collabd meeting schedule --slot N --title "…" (same people and length)')


def _as_json(result: FindTimeResult, best: list[Slot]) -> dict:
    return {
        "window": [result.window[0], result.window[1]],
        "notice_start": result.notice_start,
        "invitees": [
            {"email": p.email, "name": p.name, "required": p.required} for p in result.invitees
        ],
        "slots": [
            {
                "slot": number,
                "start": slot.start,
                "end": slot.end,
                "free": [p.email for p in slot.free],
                "busy": [{"email": p.email, "status": status} for p, status in slot.busy],
                "unknown": [p.email for p in slot.unknown],
            }
            for number, slot in enumerate(best, start=1)
        ],
    }


def _saved_path(context: Context) -> Path:
    return context.settings.data_dir / "find-time.json"


def _save(context: Context, request: FindTimeRequest, best: list[Slot]) -> None:
    path = _saved_path(context)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "collab": request.collab,
                "duration": request.duration,
                "attendees": list(request.attendees),
                "host": request.host,
                "recorder": request.recorder,
                "slots": [slot.start.isoformat() for slot in best],
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )


def slot_spec(context: Context, number: int) -> dict:
    """The meeting fields of slot `number` of the last find-time: collab, start, duration,
    host, recorder, attendees."""
    path = _saved_path(context)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            "--slot needs the slots of `collabd meeting find-time`; run it first"
        ) from None
    slots = saved["slots"]
    if not 1 <= number <= len(slots):
        raise UsageError(f"--slot {number}: the last find-time listed slots 1 to {len(slots)}")
    spec = {
        "collab": saved["collab"],
        "start": datetime.fromisoformat(slots[number - 1]).isoformat(),
        "duration": saved["duration"],
        "attendees": saved["attendees"] or None,
    }
    for key in ("host", "recorder"):
        if saved.get(key):
            spec[key] = saved[key]
    return spec
