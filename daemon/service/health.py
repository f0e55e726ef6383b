"""`collabd status`: is the service doing its job? Read from the ledger only, so it works on
any machine that can reach the database, whichever replica is where.

Exit codes follow the monitoring-plugin convention: 0 OK, 1 WARNING (someone should look:
quarantined mail, failed sends, missing holiday data), 2 CRITICAL (the service is not doing
its job: no live replica, mailbox not read, ticks not running, mail not going out).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from ..app import App
from ..clock import zoned
from ..errors import ConfigError
from ..inbound.faults import environmental, ledger_file_fault
from ..ledger.published import published_days
from ..rules.current import current_rules
from ..rules.failed_jobs import recent_failures
from ..rules.workdays import WorkCalendar
from ..store.models import (
    InboundMessage,
    InboundStatus,
    OutboxMessage,
    OutboxStatus,
    ServiceLease,
    ServiceReplica,
)
from . import beacon
from .fault_words import plain
from .journal import unknown_query
from .runner import TICK_LEASE
from .space import MIB, low_space, rooms

OK, WARNING, CRITICAL = 0, 1, 2
LEVELS = {OK: "ok", WARNING: "warning", CRITICAL: "critical"}

# Thresholds (documented in docs/operations.md).
SYNC_STALE = timedelta(minutes=10)  # IDLE is renewed every minute, a full rescan every 5
TICK_STALE_TICKS = 5  # five missed ticks in a row
BACKLOG_STALE = timedelta(minutes=15)  # the oldest due mail has waited this long
RECENT = timedelta(hours=24)  # quarantined mail and failed sends counted over this window


@dataclass
class Check:
    name: str
    level: int
    detail: str


@dataclass
class Health:
    now: datetime
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    @property
    def level(self) -> int:
        return max((check.level for check in self.checks), default=OK)

    def add(self, name: str, level: int, detail: str) -> None:
        self.checks.append(Check(name, level, detail))

    def to_json(self) -> dict:
        return {
            "status": LEVELS[self.level],
            "now": self.now.isoformat(),
            "checks": [
                {"name": c.name, "status": LEVELS[c.level], "detail": c.detail} for c in self.checks
            ],
            **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.facts.items()},
        }


def assess(app: App) -> Health:
    now = app.clock.now()
    service = app.settings.service
    health = Health(now)
    with app.db.transaction() as session:
        replica_rows = list(session.scalars(select(ServiceReplica)))
        alive = [
            r
            for r in replica_rows
            if r.stopped_at is None
            and r.heartbeat_at >= now - service.replica_timeout.as_timedelta()
        ]
        health.facts["replicas"] = [
            {
                "id": r.id,
                "heartbeat_at": r.heartbeat_at.isoformat(),
                "watching": r.watching,
                "status": r.status,
            }
            for r in alive
        ]
        # A replica whose heartbeat is stale but whose process runs here cannot write to
        # the ledger (a full disk, a read-only file): alive, and the fault is named below.
        mute = [
            r
            for r in replica_rows
            if r.stopped_at is None and r not in alive and _runs_here(r.hostname, r.pid)
        ]
        if alive:
            health.add("replicas", OK, f"{len(alive)} alive")
        elif mute:
            health.add(
                "replicas",
                CRITICAL,
                f"{len(mute)} running (pid {', '.join(str(r.pid) for r in mute)}) but "
                f"cannot write its heartbeat to the ledger for {_ago(now - mute[0].heartbeat_at)}",
            )
        else:
            health.add("replicas", CRITICAL, "no `collabd run` replica has a fresh heartbeat")

        last_sync = max((r.last_sync_at for r in replica_rows if r.last_sync_at), default=None)
        health.facts["last_sync_at"] = last_sync
        watchers = [r for r in alive if r.watching]
        if last_sync is None:
            health.add(
                "mailbox",
                CRITICAL,
                # status watches the daemon: `collabd ingest` by hand (cron) does not count
                "the mailbox has never been read by `collabd run` (ingest by hand does not count)",
            )
        elif now - last_sync > SYNC_STALE:
            health.add("mailbox", CRITICAL, f"last read {_ago(now - last_sync)} ago")
        elif not watchers and any(r.watching for r in mute):
            health.add("mailbox", CRITICAL, "the replica watching it cannot write to the ledger")
        elif not watchers:
            health.add("mailbox", CRITICAL, "no live replica watches the mailbox")
        else:
            health.add("mailbox", OK, f"last read {_ago(now - last_sync)} ago by {watchers[0].id}")

        tick = session.get(ServiceLease, TICK_LEASE)
        last_tick = tick.done_at if tick else None
        health.facts["last_tick_at"] = last_tick
        tick_stale = service.tick_every.as_timedelta() * TICK_STALE_TICKS
        if last_tick is None:
            health.add(
                "ticks",
                CRITICAL,
                "the rules have never ticked in `collabd run` (tick by hand does not count)",
            )
        elif now - last_tick > tick_stale:
            health.add("ticks", CRITICAL, f"last tick {_ago(now - last_tick)} ago")
        else:
            health.add("ticks", OK, f"last tick {_ago(now - last_tick)} ago ({tick.detail})")

        due = (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.not_before <= now)
        backlog = session.scalar(select(func.count(OutboxMessage.id)).where(due)) or 0
        oldest = session.scalar(select(func.min(OutboxMessage.not_before)).where(due))
        unknown = len(list(session.scalars(unknown_query(now))))
        health.facts.update(outbox_backlog=backlog, oldest_pending=oldest, unknown_sends=unknown)
        if oldest is not None and now - oldest > BACKLOG_STALE:
            health.add(
                "outbox", CRITICAL, f"{backlog} due, the oldest waiting {_ago(now - oldest)}"
            )
        else:
            waiting = f", the oldest waiting {_ago(now - oldest)}" if oldest else ""
            health.add(
                "outbox",
                OK,
                f"{backlog} due{waiting}; {unknown} awaiting journal proof{_held(session)}",
            )

        since = now - RECENT
        quarantined = session.scalar(
            select(func.count(InboundMessage.id)).where(
                InboundMessage.status == InboundStatus.QUARANTINED,
                InboundMessage.received_at >= since,
            )
        )
        total_quarantined = session.scalar(
            select(func.count(InboundMessage.id)).where(
                InboundMessage.status == InboundStatus.QUARANTINED
            )
        )
        health.facts["quarantined"] = total_quarantined
        health.add(
            "quarantine",
            WARNING if quarantined else OK,
            f"{quarantined} mail(s) quarantined in the last 24 h ({total_quarantined} in all)",
        )
        failed = session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.created_at >= since
            )
        )
        total_failed = session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == OutboxStatus.FAILED)
        )
        health.facts["failed_sends"] = total_failed
        health.add(
            "sends",
            WARNING if failed else OK,
            f"{failed} send(s) failed for good in the last 24 h ({total_failed} in all)",
        )

        faults = [r for r in alive if r.status.startswith("critical:")]
        if faults:
            detail = "; ".join(f"{r.id}: {r.status.removeprefix('critical: ')}" for r in faults)
            health.add("faults", CRITICAL, detail)
        elif said_outside := _faults_outside_the_ledger(app):
            health.add("faults", CRITICAL, said_outside)
        elif mute:
            health.add("faults", CRITICAL, _mute_fault(app, mute[0]))
        else:
            health.add("faults", OK, "no replica reports a fault of the machine")

        refused = [r for r in alive if r.rules_problem]
        if refused:
            health.add(
                "reload",
                WARNING,
                f"{refused[0].id}: {refused[0].rules_problem}; the rules loaded before keep "
                "running (fix the file, then reload: systemctl reload collabd)",
            )

    disk_space_check(app, health)
    if app.settings.mail.oauth.provider and app.settings.mail.backend == "imap":
        sign_in_check(app, health)
    if "graph" in (app.settings.mail.backend, app.settings.calendar.backend):
        graph_sign_in_check(app, health)

    _rule_failures(app, health)
    _calendar(app, health)
    return health


def _held(session) -> str:
    """Mail the hourly limit holds for a digest, so nothing it holds is out of sight."""
    from ..mail.answer import HELD, NOTICE_HELD, held_counts

    counts = held_counts(session)
    if not counts:
        return ""
    return (
        f"; held for their digest (mail.answers_per_hour): {counts.get(HELD, 0)} answer(s), "
        f"{counts.get(NOTICE_HELD, 0)} notice(s)"
    )


def unreadable_ledger(app: App, error: Exception) -> str:
    """Why `collabd status` cannot read the ledger, in words (the exception's text is for
    the log): the fault's kind and sentence, and what a replica of this machine said of it
    outside the ledger (service/beacon.py)."""
    fault = environmental(error) or f"database unreachable: {error}"
    database = make_url(app.settings.store_url).database
    if app.settings.store_url.startswith("sqlite") and database:
        fault = ledger_file_fault(Path(database)) or fault
    reason = f"the ledger cannot be read: {plain(fault)}"
    said = _faults_outside_the_ledger(app)
    return f"{reason}; the running daemon says: {said}" if said else reason


def _runs_here(hostname: str, pid: int) -> bool:
    """The process of a replica on this machine still runs `collabd run` (a reused pid
    running something else does not count)."""
    if hostname != socket.gethostname() or pid <= 0:
        return False
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"run" in words


def _faults_outside_the_ledger(app: App) -> str:
    """Faults a replica of this machine wrote to its runtime file (service/beacon.py) the
    moment it met them, when its row in the ledger does not say so (yet): the ledger may be
    what cannot be written."""
    said = [
        found
        for found in beacon.faults(app.settings.store_url)
        if _runs_here(str(found.get("host", "")), int(found.get("pid", 0) or 0))
        and str(found.get("status", "")).startswith("critical")
    ]
    return "; ".join(
        f"{found.get('replica', '?')}: {str(found['status']).removeprefix('critical: ')}"
        for found in said
    )


def _mute_fault(app: App, replica: ServiceReplica) -> str:
    """Why a running replica writes nothing: what it last said, and a full disk under
    the ledger or data directory if there is one (measured here, now)."""
    critical = replica.status.startswith("critical:")
    said = replica.status.removeprefix("critical: ") if critical else ""
    low = low_space(app.settings)
    reasons = [f"disk full: {'; '.join(low)}"] if low else []
    if said:
        reasons.append(f"it last said: {said}")
    reasons = reasons or ["the ledger refuses its writes (read-only, locked or unreachable)"]
    return f"{replica.id} (pid {replica.pid}) cannot write to the ledger: {'; '.join(reasons)}"


def _rule_failures(app: App, health: Health) -> None:
    """Any rule or job that failed in the last hour: something nobody is chasing."""
    failures = recent_failures(app.db, health.now)
    health.facts["failures_last_hour"] = len(failures)
    if not failures:
        health.add("rules", OK, "no rule or job failed in the last hour")
        return
    latest = failures[0]
    what = f"{latest.job} {latest.subject}".strip()
    health.add(
        "rules",
        CRITICAL,
        f"{len(failures)} failure(s) in the last hour; the latest "
        f"{_ago(health.now - latest.at)} ago: {what}: {latest.detail}",
    )


def _calendar(app: App, health: Health) -> None:
    """A year without the official holiday schedule: a warning naming the fix."""
    try:
        calendar = current_rules(app).calendar
    except ConfigError as exc:  # the file on disk is broken; the daemon runs older rules
        health.add(
            "rules file",
            WARNING,
            f"{str(exc).replace(chr(10), '; ')} (a running daemon keeps the rules it loaded)",
        )
        # The imported notices are in the ledger, whatever the file says: without them,
        # a year the notices cover would be reported as estimated.
        with app.db.transaction() as session:
            days, years = published_days(session)
        calendar = WorkCalendar(app.settings.tz).with_published(days, years)
    warnings = calendar.coverage_warnings(health.now.astimezone(calendar.timezone).date())
    health.facts["calendar_warnings"] = warnings
    health.add("calendar", WARNING if warnings else OK, "; ".join(warnings) or "covered")


def disk_space_check(app: App, health: Health) -> None:
    """Free space on the data directory's filesystem and on the SQLite ledger's, against
    `[service] min_free_mb`. Checked on the machine `collabd status` runs on. A filesystem
    smaller than the threshold is said as such, the same at every look: freeing space
    cannot fix it, a smaller threshold or a larger disk can."""
    found = rooms(app.settings)
    needed = app.settings.service.min_free_mb
    health.facts["disk_free"] = [str(room) for room in found]
    small = [room for room in found if room.too_small]
    low = [room for room in found if room.low and not room.too_small]
    said = []
    if small:
        said.append(
            "; ".join(
                f"{room.what} {room.path} is {room.size // MIB} MiB in all, smaller than "
                f"[service] min_free_mb = {needed} MiB: it can never have that much free "
                f"(a disk-full episode there ends once {room.needed // MIB} MiB are free); "
                "lower min_free_mb or give it a larger disk"
                for room in small
            )
        )
    if low:
        said.append(f"{'; '.join(map(str, low))} (below {needed} MiB: free some space)")
    if said:
        health.add("disk", WARNING, "; ".join(said))
    else:
        health.add("disk", OK, "; ".join(map(str, found)) or "not measurable here")


def sign_in_check(app: App, health: Health) -> None:
    """The mailbox's OAuth sign-in: when its token runs out, and the last sign-in error if
    no sign-in has succeeded since. Token times are real time, whatever `--at` says."""
    from ..mail.oauth import open_sign_in

    sign_in = open_sign_in(app.settings, app.db)
    _sign_in_facts(app, health, sign_in.user, sign_in.stored())


def graph_sign_in_check(app: App, health: Health) -> None:
    """The same for Microsoft Graph's app token: in the ledger on PostgreSQL, and on SQLite
    in the data directory's graph-sign-in.json (mail/transport/graph_auth.py says why)."""
    from ..mail.transport import graph_settings
    from ..mail.transport.graph_auth import graph_sign_in_state

    graph = graph_settings(app.settings)
    sign_in = graph_sign_in_state(graph, app.db, app.settings.data_dir, None)
    _sign_in_facts(app, health, graph.user, sign_in.stored(), delegated=False)


def _sign_in_facts(app: App, health: Health, user: str, row, delegated: bool | None = None) -> None:
    now = datetime.now(UTC)
    expires = row.expires_at if row else None
    error = row.last_error if row else None
    failing = bool(error) and (row.signed_in_at is None or row.last_error_at >= row.signed_in_at)
    health.facts["sign_in"] = {
        "user": user,
        "token_expires_at": expires.isoformat() if expires else None,
        "signed_in_at": row.signed_in_at.isoformat() if row and row.signed_in_at else None,
        "last_error": error if failing else None,
        "last_error_at": row.last_error_at.isoformat() if failing else None,
    }
    local = app.settings.tz
    if expires:
        left = expires - now
        validity = (
            f"token valid until {zoned(expires, local, seconds=False)} ({_ago(left)} left)"
            if left > timedelta(0)
            else f"token expired {_ago(-left)} ago (renewed when next needed)"
        )
    else:
        validity = "no token yet"
    if delegated is None:
        delegated = app.settings.mail.oauth.flow == "delegated"
    if failing:
        # A token that a server refused, or that could not be renewed, is no longer used,
        # whatever its expiry says: say so, and what brings the sign-in back.
        ago = _ago(now - row.last_error_at)
        remedy = (
            "sign in again: run `collabd auth login`"
            if delegated
            else "fix the app in [mail.oauth], then run `collabd auth login`"
        )
        health.add(
            "sign-in",
            CRITICAL,
            f"{user}: token no longer usable, sign-in failed {ago} ago: {error}; {remedy}",
        )
    elif row is None or not (row.access_token or row.refresh_token):
        health.add(
            "sign-in",
            CRITICAL if delegated else OK,
            f"{user}: nobody has signed in yet: run `collabd auth login`"
            if delegated
            else f"{user}: no token yet (fetched at the first connection)",
        )
    else:
        health.add("sign-in", OK, f"{user}: {validity}")


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
