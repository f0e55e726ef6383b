"""`collabd tick`, `collabd rules check|test|simulate`, `collabd calendar explain`:
running the rules once, and checking them before they run."""

from __future__ import annotations

import argparse
import re
from datetime import date, timedelta

from sqlalchemy import func, select

from ..clock import FixedClock, parse_instant
from ..errors import ConfigError, UsageError
from ..ledger.items import find_item
from ..mail.send import send_due
from ..rules.config import ROLES, active_rules
from ..rules.current import current_rules
from ..rules.engine import evaluate
from ..rules.itemrules import item_rules
from ..rules.tick import run_tick
from ..rules.workdays import ESTIMATED, CalendarCoverageError, fix_command
from ..store.models import (
    CLOSED_STATUSES,
    ActionItem,
    Collaboration,
    CollabStatus,
    Locale,
    Person,
    RuleSchedule,
)
from . import holidays
from .commands import HELP
from .context import Context
from .output import emit_json


def register(commands: argparse._SubParsersAction) -> None:
    tick = commands.add_parser("tick", help=HELP["tick"])
    tick.add_argument("--no-send", action="store_true", help="queue only, do not send")
    tick.add_argument(
        "--every",
        type=int,
        metavar="SECONDS",
        help="keep ticking at this interval (a failing pass is logged, never stops the loop)",
    )
    tick.add_argument("--json", action="store_true")
    tick.set_defaults(handler=tick_command)

    rules = commands.add_parser("rules", help=HELP["rules"])
    sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate the rules; report calendar coverage")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=check_command)
    test = sub.add_parser("test", help="what would fire at --at TIME, to whom, and why")
    test.add_argument("--item", metavar="COLLAB#N", help="only this item")
    _locale_option(test)
    test.add_argument("--json", action="store_true")
    test.set_defaults(handler=test_command)
    simulate = sub.add_parser("simulate", help="a timeline of every mail between two dates")
    simulate.add_argument("--from", dest="start", required=True, metavar="TIME")
    simulate.add_argument("--to", dest="end", required=True, metavar="TIME")
    simulate.add_argument("--item", metavar="COLLAB#N", help="only this item")
    _locale_option(simulate)
    simulate.add_argument("--json", action="store_true")
    simulate.set_defaults(handler=simulate_command)

    calendar = commands.add_parser("calendar", help=HELP["calendar"])
    csub = calendar.add_subparsers(dest="calendar_command", metavar="ACTION", required=True)
    explain = csub.add_parser("explain", help="DATE ±Nwd: which day that is, and why")
    explain.add_argument("day", metavar="DATE")
    # REMAINDER: "-2wd" starts with a dash but is an offset, not an option (--json may follow)
    explain.add_argument("offset", metavar="±Nwd [--json]", nargs=argparse.REMAINDER)
    explain.set_defaults(handler=explain_command)
    holidays.register(csub)


def _locale_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--locale",
        choices=[str(locale) for locale in Locale],
        default=str(Locale.ZH_CN),
        help="the language reasons are written in (default zh-CN)",
    )


def tick_command(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    context.rules()  # a broken rules file stops here, before anything is sent
    if args.every:
        return _loop(context, args)
    report = run_tick(app, app.clock.now())
    sent = None if args.no_send else send_due(app.db, app.transport.outgoing, app.clock)
    if args.json:
        emit_json(
            {
                "now": report.now,
                "decisions": [d.as_dict() for d in report.decisions],
                "errors": report.errors,
                "sent": sent.sent if sent else [],
                "failed": sent.failed if sent else [],
            }
        )
    else:
        print(f"tick at {context.local(report.now)}")
        for decision in report.decisions:
            print("  " + decision.line(active_rules(app).zone))
        for error in report.errors:
            print(f"  error: {error}")
        if sent is not None:
            print(
                f"sent {len(sent.sent)}, deferred {len(sent.deferred)}, failed {len(sent.failed)}"
            )
    return 1 if report.errors or (sent and sent.failed) else 0


def _loop(context: Context, args: argparse.Namespace) -> int:
    """The daemon's heartbeat: `schedule` runs one pass per interval, on the real clock."""
    import logging
    import time

    import schedule

    if isinstance(context.clock, FixedClock):
        raise UsageError("--every runs on the real clock; leave out --at")
    app, log = context.app, logging.getLogger("collabd.tick")

    def one_pass() -> None:
        try:
            report = run_tick(app, app.clock.now())
            for line in report.queued + report.deferred:
                log.info("%s", line)
            for error in report.errors:
                log.error("%s", error)
            if not args.no_send:
                send_due(app.db, app.transport.outgoing, app.clock)
        except Exception:  # logged; the next pass tries again
            log.exception("tick failed")

    one_pass()
    schedule.every(args.every).seconds.do(one_pass)
    while True:
        schedule.run_pending()
        time.sleep(min(1.0, args.every))


def check_command(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    rules = current_rules(app)  # loading validates; problems exit 78 naming file, line, key
    today = app.clock.now().astimezone(rules.zone).date()
    problems: list[str] = []
    # Every working-day rule must be computable for this year and next (or say why not).
    for year in (today.year, today.year + 1):
        try:
            rules.calendar.add_working_days(date(year, 12, 1), 5)
        except CalendarCoverageError as exc:
            if year == today.year:
                problems.append(f"{rules.source}: calendar: {exc}")
    warnings = rules.calendar.coverage_warnings(today) + rules.calendar.warnings
    warnings += _role_gaps(app, rules)
    first, last = rules.calendar.coverage()
    listed = [{"id": rule.rule_id, "description": rule.description} for rule in item_rules(rules)]
    listed += [
        {"id": "digest.weekly", "description": "weekly digest"},
        {"id": "minutes.missing", "description": "chase minutes not published in time"},
        {"id": "minutes.unconfirmed", "description": "chase minutes nobody confirmed"},
    ]
    if args.json:
        emit_json(
            {
                "source": rules.source,
                "timezone": str(rules.zone),
                "coverage": [first, last],
                "rules": listed,
                "roles": list(ROLES),
                "warnings": warnings,
                "problems": problems,
            }
        )
    else:
        print(f"rules: {rules.source}")
        print(f"timezone: {rules.zone}; holiday data for {first}–{last}")
        for rule in listed:
            print(f"  {rule['id']:<28} {rule['description']}")
        for warning in warnings:
            print(f"warning: {warning}")
    if problems:
        raise ConfigError("\n".join(problems))
    return 0


def _role_gaps(app, rules) -> list[str]:
    """Roles the rules use that some people in open collaborations cannot fill."""
    used = {role for e in rules.spec.escalations for level in e.levels for role in level.to}
    used |= set(rules.spec.digest.to)
    gaps = []
    with app.db.transaction() as session:
        if "owner_head" in used:
            owners = select(ActionItem.owner_id).where(ActionItem.status.notin_(CLOSED_STATUSES))
            names = session.scalars(
                select(Person.name).where(Person.id.in_(owners), Person.head_id.is_(None))
            ).all()
            if names:
                gaps.append(
                    f"owner_head: {len(names)} owner(s) of open items have no department head "
                    f"in the people list ({', '.join(sorted(names)[:5])}…): their escalations "
                    "skip that role"
                )
        if "initiator_leader" in used:
            active = select(Collaboration.initiator_id).where(
                Collaboration.status == CollabStatus.ACTIVE
            )
            names = session.scalars(
                select(Person.name).where(Person.id.in_(active), Person.leader_id.is_(None))
            ).all()
            if names:
                gaps.append(
                    f"initiator_leader: initiator(s) without a leader: {', '.join(sorted(names))}"
                )
    return gaps


def _item_ids(context: Context, session, ref: str | None) -> list[int] | None:
    return None if ref is None else [find_item(session, ref).id]


def test_command(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    now = app.clock.now()
    current_rules(app)  # with the imported holiday notices
    session = app.db.sessions()
    try:
        session.begin()
        decisions = evaluate(session, app, now, _item_ids(context, session, args.item))
    finally:
        session.rollback()  # a test changes nothing
        session.close()
    _print(context, decisions, args, f"as of {context.local(now)} (nothing is sent)")
    return 0


def simulate_command(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    start = parse_instant(args.start, app.settings.tz)
    end = parse_instant(args.end, app.settings.tz)
    if end <= start:
        raise UsageError("--to must be after --from")
    current_rules(app)  # with the imported holiday notices
    session = app.db.sessions()
    decisions = []
    try:
        session.begin()
        items = _item_ids(context, session, args.item)
        now = start
        while now <= end:
            decisions += evaluate(session, app, now, items)
            session.flush()
            query = select(func.min(RuleSchedule.next_due_at)).where(RuleSchedule.next_due_at > now)
            if items is not None:
                query = query.where(RuleSchedule.item_id.in_(items))
            upcoming = session.scalar(query)
            # Step to the next due time, but at least hourly (minutes, digests, quiet hours).
            step = now + timedelta(hours=1)
            now = min(upcoming, step) if upcoming is not None else step
    finally:
        session.rollback()
        session.close()
    shown = _once(d for d in decisions if d.status != "collapsed")
    _print(
        context,
        shown,
        args,
        f"from {context.local(start)} to {context.local(end)} (simulated; nothing is sent)",
    )
    return 0


def _once(decisions) -> list:
    """A mail found already sent is said the first hour only: every simulated hour asks the
    rules again, and six `duplicate` lines an hour hid the mail that would really go."""
    seen: set[tuple] = set()
    kept = []
    for decision in decisions:
        key = (decision.rule, decision.level, decision.subject, tuple(decision.to))
        if decision.status == "duplicate":
            if key in seen:
                continue
            seen.add(key)
        kept.append(decision)
    return kept


def _print(context: Context, decisions, args: argparse.Namespace, title: str) -> None:
    if args.json:
        emit_json([d.as_dict(args.locale) for d in decisions])
        return
    print(title)
    if not decisions:
        print("  nothing is due")
    for decision in decisions:
        print("  " + decision.line(active_rules(context.app).zone, args.locale))


_OFFSET = re.compile(r"^([+-]?\d+)\s*wd$")


def explain_command(context: Context, args: argparse.Namespace) -> int:
    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        raise UsageError(f"{args.day!r} is not a date (YYYY-MM-DD)") from None
    words = list(args.offset)
    args.json = "--json" in words
    words = [w for w in words if w != "--json"] or ["0wd"]
    match = _OFFSET.match(" ".join(words).strip())
    if len(words) != 1 or not match:
        raise UsageError(
            f"{' '.join(words)!r} is not a working-day offset; write e.g. -2wd or +3wd"
        )
    n = int(match[1])
    calendar = current_rules(context.app).calendar
    try:
        walked = calendar.explain(day, n)
    except CalendarCoverageError as exc:
        raise ConfigError(str(exc)) from None
    result = walked[-1].day
    estimated = sorted({info.day.year for info in walked if info.estimated})
    if args.json:
        emit_json(
            {
                "from": day,
                "offset": n,
                "result": result,
                "estimated": bool(estimated),
                "days": [
                    {
                        "day": i.day,
                        "working": i.working,
                        "reason": i.reason(context.locale),
                        "estimated": i.estimated,
                    }
                    for i in walked
                ],
            }
        )
        return 0
    print(f"{day} {n:+d}wd = {result}" + (f" ({ESTIMATED} estimated)" if estimated else ""))
    for info in walked:
        print(f"  {info.line(context.locale)}")
    for year in estimated:
        print(f"estimated: no official holiday schedule for {year} yet; run: {fix_command(year)}")
    return 0
