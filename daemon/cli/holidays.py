"""`collabd calendar import NOTICE.txt`: the State Council's holiday notice into the ledger.

Shows what the notice says (days off, make-up working days) and how it differs from what
collabd counted before (the estimate, for a year nobody had published), then writes it.
The ledger, not a file, so every replica counts with it from its next tick, no reload.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

from ..errors import DataError, UsageError
from ..ledger.published import published_days, replace_year
from ..rules.current import current_rules
from ..rules.notice import NoticeError, read_notice
from ..rules.workdays import CalendarCoverageError, DayInfo, WorkCalendar
from .context import Context
from .output import emit_json

_WEEKDAY = "一二三四五六日"


def register(calendar: argparse._SubParsersAction) -> None:
    command = calendar.add_parser(
        "import",
        help="read the State Council's holiday notice and count working days with it",
        description="Read 《国务院办公厅关于YYYY年部分节假日安排的通知》 saved as text (or as the "
        "web page; simplified or traditional), show its days off and make-up working days "
        "and how they differ from what collabd counted before, and write them to the "
        "ledger. Importing a year again replaces it. [calendar.overrides] in the rules "
        "file still win over the notice.",
    )
    command.add_argument("file", metavar="NOTICE.txt", type=Path)
    command.add_argument("--year", type=int, help="the year, when the text does not say")
    command.add_argument("--dry-run", action="store_true", help="show, write nothing")
    command.add_argument(
        "--partial",
        action="store_true",
        help="write what was understood even when part of the notice was not (its days "
        "then count as ordinary days: add them under [calendar.overrides])",
    )
    command.add_argument("--json", action="store_true")
    command.set_defaults(handler=import_command)


def import_command(context: Context, args: argparse.Namespace) -> int:
    try:
        notice = read_notice(_read(args.file), args.year)
    except NoticeError as exc:
        raise DataError(f"{args.file}: {exc}") from None
    app = context.app
    rules = current_rules(app)
    with app.db.transaction() as session:
        days, years = published_days(session)
    named = notice.days()
    # Before: everything else imported, this year as it was counted without a notice.
    others = {day: value for day, value in days.items() if day.year != notice.year}
    before = rules.calendar.with_published(others, years - {notice.year})
    after = rules.calendar.with_published({**others, **named}, years | {notice.year})
    changes = _changes(before, after, notice.year, named)
    overridden = sorted(day for day in named if after.info(day).overridden)
    # A notice read in part would make its year "published" with holidays missing: the
    # days of a holiday not understood would count as working days. Say which parts, and
    # write only when told to.
    would_refuse = bool(notice.unread) and not args.partial
    refused = would_refuse and not args.dry_run
    if not args.dry_run and not refused:
        with app.db.transaction() as session:
            replace_year(session, notice.year, named, source=str(args.file), now=app.clock.now())
    if args.json:
        emit_json(
            {
                "year": notice.year,
                "holidays": notice.holidays,
                "days_off": sorted(notice.days_off),
                "working": sorted(notice.working),
                "changes": [
                    {
                        "day": old.day,
                        "was": old.working,
                        "now": new.working,
                        "was_why": old.reason(context.locale),
                    }
                    for old, new in changes
                ],
                "overridden": overridden,
                "not_understood": notice.unread,
                "written": not args.dry_run and not refused,
            }
        )
    else:
        _print(notice, before, changes, overridden, args, not refused, context.locale)
    for part in notice.unread:
        print(f"collabd: warning: not understood: {part}", file=sys.stderr)
    if would_refuse:  # a dry run gives the verdict the real import would (exit 65)
        verdict = "dry run: the import would write nothing" if args.dry_run else "nothing written"
        raise DataError(
            f"{args.file}: {verdict}: "
            f"{len(notice.unread)} part(s) of the notice were not "
            "understood (above). Correct the text to the notice's wording, or add --partial to "
            "write what was understood and set the rest under [calendar.overrides]"
        )
    return 0


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the notice: {exc.strerror}") from None
    for encoding in ("utf-8-sig", "gb18030"):  # a Windows editor in China saves GBK
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path}: neither UTF-8 nor GBK text")


def _changes(
    before: WorkCalendar, after: WorkCalendar, year: int, named: dict
) -> list[tuple[DayInfo, DayInfo]]:
    """Days whose status the import changes: the named ones, and any day of the year the
    earlier count had as a holiday the notice does not name."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    days = set(named) | {first + timedelta(days=n) for n in range((last - first).days + 1)}
    found = []
    for day in sorted(days):
        old = _info(before, day)
        new = after.info(day)
        if old is None or old.working != new.working:
            found.append((old or DayInfo(day, new.working, "—"), new))
    return found


def _info(calendar: WorkCalendar, day: date) -> DayInfo | None:
    try:
        return calendar.info(day)
    except CalendarCoverageError:  # fallback = "refuse": nothing was counted before
        return None


def _print(
    notice, before: WorkCalendar, changes, overridden, args, written: bool, locale: str
) -> None:
    basis = before.basis(notice.year)
    print(
        f"《国务院办公厅关于{notice.year}年部分节假日安排的通知》 ({args.file}): "
        f"{len(notice.holidays)} holidays, {len(notice.days_off)} days off, "
        f"{len(notice.working)} make-up working days"
    )
    print("days off 放假:")
    for start, end, name in _runs(notice.days_off):
        span = f"{start} … {end}" if end != start else str(start)
        count = (end - start).days + 1
        print(f"  {span:<25} {name} ({count} day{'s' if count > 1 else ''})")
    print("make-up working days 调休上班:")
    for day, name in sorted(notice.working.items()):
        print(f"  {day} 周{_WEEKDAY[day.weekday()]}            {name}")
    if not notice.working:
        print("  none")
    label = {"estimate": "the estimate (按预估假期计算)", "package": "chinesecalendar"}.get(
        basis, f"the counting before ({basis})"
    )
    print(f"changes against {label}: {len(changes)} day(s)")
    for old, new in changes:
        state = "working" if new.working else "off"
        was = old.reason(locale)
        print(f"  {new.day} 周{_WEEKDAY[new.day.weekday()]} now {state:<8} was: {was}")
    for day in overridden:
        print(f"note: {day} is set in [calendar.overrides], which still wins over the notice")
    if args.dry_run:
        print("dry run: nothing written")
    elif not written:
        print("nothing written: part of the notice was not understood")
    else:
        print(
            f"written to the ledger: every collabd replica counts {notice.year} with it from "
            "its next tick (no reload needed)"
        )


def _runs(days: dict[date, str]):
    run: list = []
    for day, name in sorted(days.items()):
        if run and run[2] == name and (day - run[1]).days == 1:
            run[1] = day
            continue
        if run:
            yield tuple(run)
        run = [day, day, name]
    if run:
        yield tuple(run)
