"""The daemon's main loop: one process, one shutdown path.

Threads: the mailbox watcher runs in a thread of its own (IMAP IDLE blocks), started only
while this replica holds the mailbox's lock. Everything else happens in the main loop, in
this order, about twice a second: reload the config if SIGHUP asked for it; take or check
the mailbox lock; run the scheduled jobs (the rule tick every `service.tick_every`, claimed
so one replica ticks per period); settle interrupted sends; send what is due; refresh the
heartbeat; tell systemd (READY once, WATCHDOG after each healthy iteration, STATUS).

SIGTERM and SIGINT only set an event. The watcher stops between two mails (the mail in hand
is committed and filed first), the sender between two sends; the main loop then releases
the lock, records the stop and returns 0. A side thread never talks to systemd.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import schedule
from sqlalchemy.exc import SQLAlchemyError

from ..app import App
from ..clock import Clock, zoned
from ..config import Settings, load_settings
from ..errors import CollabdError
from ..inbound.faults import environmental
from ..inbound.ingest import IngestReport, ingest_pass
from ..inbound.watcher import BACKOFF_SECONDS, MailboxWatcher
from ..mail.send import release_dead_claims, send_due
from ..mail.transport import GraphMailbox, ImapMailbox, TransportError, open_journal
from ..rules.config import Rules, load_rules, use_rules
from ..rules.tick import run_tick
from . import beacon, journal, leases, replicas
from .alarm import RECORD, AdminAlarm, category
from .fault_words import plain
from .locks import MailboxLock
from .notify import Notifier, watchdog_interval
from .space import MIB, low_space, still_short

log = logging.getLogger(__name__)

LOOP_SECONDS = 0.5
HEARTBEAT_SECONDS = 2.0
SEND_BATCH = 20  # small enough to be sent well within any sane claim lease
STUCK_SECONDS = 180  # a watcher with no sign of life for this long fails the watchdog
WATCH_IDLE_SECONDS = 60  # re-issue IDLE every minute: a sign of life, well under 29 min
MAILDIR_POLL_SECONDS = 2.0
TICK_LEASE = "tick"
SEND_BACKOFF = (1, 2, 5, 10, 30)  # seconds between tries while the SMTP server is away
TAKEOVER_SECONDS = 5  # how often to look for claims of a sender that is gone
# Seconds between iterations a fault of the machine stops. Each is one heartbeat write, cheap:
# capped at 5 s, it is what notices the fault's end (and nudges the watcher) soon.
LOOP_BACKOFF = (1, 2, 5)
# A disk-full episode ends when no write has failed for this long AND the free space is back
# (above [service] min_free_mb, or a quarter of a disk smaller than that): one large
# attachment, or a disk hovering at full, must not make the fault start and end every 2 s.
DISK_SETTLE_SECONDS = 15
# … or, with the space still short (the ledger's write-ahead log keeps what it grew to),
# when no write has failed for this long: work goes on, and the `disk` check of `collabd
# status` keeps warning about the space, steadily.
DISK_SHORT_SETTLE_SECONDS = 30


class StoppableMailbox:
    """The mailbox as the watcher sees it: stops yielding mail once shutdown is asked (so
    ingest_pass files what it committed and returns), and notes signs of life."""

    def __init__(self, mailbox, stop: threading.Event, on_activity: Callable[[], None]):
        self._mailbox, self._stop, self._activity = mailbox, stop, on_activity
        self.pass_started: datetime | None = None

    def __getattr__(self, name: str):
        return getattr(self._mailbox, name)

    def fetch(self, since: int = 0) -> Iterator:
        self.pass_started = datetime.now(UTC)
        self._activity()
        for mail in self._mailbox.fetch(since):
            self._activity()
            if self._stop.is_set():
                return
            yield mail

    def wait_for_new(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """The transport's wait (IMAP: a NOOP, then IDLE), noting signs of life."""
        self._activity()
        try:
            return self._mailbox.wait_for_new(timeout, stop)
        finally:
            self._activity()


@dataclass
class WatchThread:
    """The watcher thread of one lock tenure, and what it reports to the main loop."""

    app: App
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    last_activity: float = field(default_factory=time.monotonic)
    synced: int = 0  # passes finished
    last_sync_at: datetime | None = None  # start of the last finished pass
    wake: threading.Event | None = None  # set after a pass: answers to send
    watcher: MailboxWatcher | None = None
    maildir_fault: str = ""  # the maildir poll's last fault of the machine

    @property
    def fault(self) -> str:
        """What keeps mail from being applied now ("" when nothing)."""
        return self.watcher.fault if self.watcher is not None else self.maildir_fault

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="collabd-watch", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stuck(self) -> bool:
        return time.monotonic() - self.last_activity > STUCK_SECONDS

    def _touch(self) -> None:
        self.last_activity = time.monotonic()

    def _after_pass(self, mailbox: StoppableMailbox, report: IngestReport) -> None:
        self.synced += 1
        self.last_sync_at = mailbox.pass_started
        self._touch()
        if self.wake is not None:
            self.wake.set()

    def _run(self) -> None:
        incoming = self.app.transport.incoming
        mailbox = StoppableMailbox(incoming, self.stop, self._touch)
        failures = 0
        maildir_faults = 0  # consecutive maildir passes a fault of the machine stopped
        while not self.stop.is_set():
            try:
                if isinstance(incoming, ImapMailbox | GraphMailbox):
                    self.watcher = MailboxWatcher(
                        self.app,
                        mailbox,  # type: ignore[arg-type]
                        self.stop,
                        after_pass=lambda report: self._after_pass(mailbox, report),
                        idle_seconds=WATCH_IDLE_SECONDS,
                    )
                    self.watcher.run()
                else:  # a maildir: poll
                    report = ingest_pass(self.app, mailbox, full=True)  # type: ignore[arg-type]
                    self.maildir_fault = report.fault
                    self._after_pass(mailbox, report)
                    if report.fault:  # back off as the IMAP watcher does; say it once
                        delay = BACKOFF_SECONDS[min(maildir_faults, len(BACKOFF_SECONDS) - 1)]
                        if maildir_faults == 0:
                            log.error(
                                "mailbox %s: %s; the mail waits in the folder, uncounted; "
                                "retrying after %s",
                                incoming.name,
                                report.fault,
                                ", ".join(f"{s}s" for s in BACKOFF_SECONDS),
                                extra={"mailbox": incoming.name},
                            )
                        maildir_faults += 1
                        self.stop.wait(delay)
                    else:
                        if maildir_faults:
                            log.warning("mailbox %s: the fault has ended", incoming.name)
                        maildir_faults = 0
                        self.stop.wait(MAILDIR_POLL_SECONDS)
                failures = 0
            except Exception as exc:  # the ledger is unreachable, or a bug: back off, retry
                delay = min(30, 2**failures)
                failures += 1
                log.error(
                    "watching %s failed: %s: %s; again in %ss",
                    incoming.name,
                    type(exc).__name__,
                    exc,
                    delay,
                    extra={"mailbox": incoming.name},
                )
                with contextlib.suppress(Exception):
                    incoming.close()
                self._touch()
                self.stop.wait(delay)


class Service:
    def __init__(
        self,
        settings: Settings,
        config_path: Path | None,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        settings_override: Callable[[Settings], Settings] = lambda s: s,
    ) -> None:
        self.settings, self.config_path = settings, config_path
        self.clock = clock or Clock()
        self.notifier = notifier or Notifier()
        self.settings_override = settings_override  # --data-dir applies to reloads too
        self.replica_id = replicas.new_replica_id()
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.reload_asked = False
        self.more_to_send = False
        self.send_wanted = True
        self.send_failures = 0
        self.send_paused_until = 0.0
        # The SMTP server unreachable or refusing sign-in: a fault like the mailbox's (status
        # critical, one admin mail) until a send batch reaches it again.
        self.send_fault = ""
        self.app: App | None = None
        self.lock: MailboxLock | None = None
        self.watch: WatchThread | None = None
        self.ready = False
        self.unexpected_failures = 0
        self.last_beat = 0.0
        self.last_send = 0.0
        self.last_takeover = float("-inf")
        self.last_ping = 0.0
        self.status_text = "starting"
        self.beacon_written = False  # a fault file in the runtime directory (beacon.py)
        self.loop_fault = ""  # a fault of the machine the main loop itself met
        self.loop_failures = 0  # iterations in a row it stopped
        self.fault_seen = 0.0  # monotonic: the last time a fault was present
        self.alarm = AdminAlarm(
            settings.daemon.data_dir / RECORD,
            settings.daemon.fault_mails_per_hour,
            fallback=f"admin-alarm-{beacon.ledger_tag(settings.store_url)}.json",
        )
        self.rules: Rules | None = None
        self.rules_problem = ""  # a refused reload, until a reload loads
        self.scheduler = schedule.Scheduler()

    # --- signals ----------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def stop(signum, _frame) -> None:
            log.info("%s: finishing the work in hand, then stopping", signal.Signals(signum).name)
            self.stopping.set()
            self.wake.set()

        def reload(_signum, _frame) -> None:
            self.reload_asked = True
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    # --- life -------------------------------------------------------------------------------
    def run(self) -> int:
        # The rules file is config: a broken one stops the start (exit 78, FILE:LINE:
        # key = value), instead of failing every tick of a daemon that looks healthy.
        self.rules = load_rules(self.settings.rules.file, self.settings.tz)
        # A fatal signal (SIGBUS when SQLite's memory-mapped -shm file stops being writable
        # under the daemon: chattr +i, a vanished mount) still leaves a line in the journal
        # naming it and where, instead of a silent exit 135 (review F17).
        faulthandler.enable()
        self.install_signal_handlers()
        beacon.sweep(self.settings.store_url)  # what a killed predecessor left
        self._open()
        watchdog = watchdog_interval()
        log.info("collabd run started", extra={"replica": self.replica_id})
        try:
            while not self.stopping.is_set():
                healthy = self._iteration()
                # From this thread only, and only after a healthy iteration: a hung loop or a
                # stuck watcher stops the pings, and systemd restarts the service.
                if healthy and watchdog and time.monotonic() - self.last_ping >= 1.0:
                    self.notifier.watchdog()
                    self.last_ping = time.monotonic()
                woke = self.more_to_send or self.wake.wait(LOOP_SECONDS)
                self.wake.clear()
                self.send_wanted = woke
        finally:
            self._shutdown()
        return 0

    def _open(self) -> None:
        if self.rules is None:
            self.rules = load_rules(self.settings.rules.file, self.settings.tz)
        self.app = App(self.settings, clock=self.clock)
        use_rules(self.app, self.rules)  # loaded at start or on SIGHUP, never by a tick
        self.app.db  # noqa: B018 - opens (and if empty, creates) the ledger now
        self.app.transport  # noqa: B018 - before the watcher thread can race for it
        replicas.register(
            self.app.db, self.replica_id, self.clock.now(), rules_problem=self.rules_problem
        )
        self.lock = MailboxLock(self.app.db, self.app.transport.incoming.name)
        settings, db = self.settings, self.app.db
        self.journal_folder = journal.JournalFolder(
            lambda: open_journal(settings, db), also=(settings.mail.imap.folder,)
        )
        self.scheduler.clear()
        every = self.settings.service.tick_every.as_timedelta().total_seconds()
        self.scheduler.every(every).seconds.do(self._job, "tick", self._tick)
        self.ready_sent_for_config = False
        self.first_tick_pending = True

    def _iteration(self) -> bool:
        """One pass of the main loop; True if everything in it was healthy."""
        assert self.app is not None
        if self.reload_asked:
            self.reload_asked = False
            self._reload()
        try:
            self._keep_watching()
            if self.first_tick_pending:  # the first tick right away, then on schedule
                self.first_tick_pending = False
                self._job("tick", self._tick)
            self.scheduler.run_pending()
            self._send()
            # Over only once a write went through: an iteration that only read proves
            # nothing about a full disk or a read-only ledger.
            if self._heartbeat() and self.loop_fault:
                log.warning("main loop: going on again after %s", self.loop_fault)
                self.loop_fault, self.loop_failures = "", 0
                # The watcher may be backing off (up to 30 s) from the same fault: the
                # waiting mail is tried now, not at the end of its pause.
                if self.watch is not None and self.watch.watcher is not None:
                    self.watch.watcher.nudge()
            self._note_faults()
            self.unexpected_failures = 0
        except (SQLAlchemyError, TransportError, OSError) as exc:
            # The ledger or a server is away: nothing is lost, a later iteration retries,
            # after 1, 2, then every 5 s. Logged when the fault starts or changes,
            # not once a second for as long as it lasts.
            first_line = (str(exc).splitlines() or [""])[0]
            fault = environmental(exc) or f"{type(exc).__name__}: {first_line}"
            delay = LOOP_BACKOFF[min(self.loop_failures, len(LOOP_BACKOFF) - 1)]
            self.loop_failures += 1
            if fault != self.loop_fault:
                log.warning("main loop: %s; trying again after %s s, then every 5 s", fault, delay)
            self.loop_fault = fault
            self._note_faults()
            self.stopping.wait(delay)
        except Exception:
            self.unexpected_failures += 1
            log.exception("main loop failed (%d in a row)", self.unexpected_failures)
            self.stopping.wait(1.0)
        self._maybe_ready()
        watcher_ok = self.watch is None or (self.watch.alive() and not self.watch.stuck())
        return watcher_ok and self.unexpected_failures < 3

    def _keep_watching(self) -> None:
        assert self.app is not None and self.lock is not None
        if self.watch is not None and not self.lock.still_held():
            log.error(
                "lost the lock on %s: stopping the watcher",
                self.lock.mailbox,
                extra={"mailbox": self.lock.mailbox},
            )
            self._stop_watching(release=False)
        if self.watch is not None and not self.watch.alive() and not self.stopping.is_set():
            log.error("the watcher thread ended unexpectedly: starting it again")
            self._stop_watching()
        if self.watch is None and self.lock.try_acquire():
            log.info("watching %s", self.lock.mailbox, extra={"mailbox": self.lock.mailbox})
            self.watch = WatchThread(self.app, wake=self.wake)
            self.watch.start()
            replicas.beat(
                self.app.db, self.replica_id, self.clock.now(), watching=self.lock.mailbox
            )

    def _stop_watching(self, release: bool = True) -> None:
        watch, self.watch = self.watch, None
        if watch is not None:
            watch.stop.set()
            if watch.thread is not None:
                watch.thread.join(timeout=30)
                if watch.thread.is_alive():
                    log.error("the watcher did not stop within 30 s")
        if release and self.lock is not None:
            self.lock.release()

    def _maybe_ready(self) -> None:
        if self.ready_sent_for_config:
            return
        synced = self.watch is not None and self.watch.synced > 0
        other_watches = self.watch is None and self.last_beat > 0  # ledger reachable
        if synced or other_watches:
            self.ready_sent_for_config = True
            if not self.ready:
                self.ready = True
                what = "watching the mailbox" if synced else "another replica watches the mailbox"
                self._set_status(f"ready: {what}")
                self.notifier.ready(self.status_text)
                log.info("ready: %s", what, extra={"replica": self.replica_id})
            else:
                self.notifier.notify("READY=1", "STATUS=config reloaded")

    # --- work -------------------------------------------------------------------------------
    def _job(self, name: str, work: Callable[[], None]) -> None:
        """A scheduled job that fails is logged; the loop and the other jobs go on."""
        try:
            work()
        except Exception as exc:
            if environmental(exc):  # the machine's fault: the main loop backs off and says it
                raise
            log.exception("job %s failed; next run on schedule", name)

    def _tick(self) -> None:
        assert self.app is not None
        now = self.clock.now()
        every = self.settings.service.tick_every.as_timedelta()
        period = _floor(now, every)
        lease = self.settings.service.claim_lease.as_timedelta()
        if not leases.claim(self.app.db, TICK_LEASE, period, now, lease, self.replica_id):
            return
        try:
            report = run_tick(self.app, now)
        except Exception:
            leases.release(self.app.db, TICK_LEASE, self.replica_id)
            raise
        for line in report.queued:
            log.info("tick: queued %s", line)
        for line in report.errors:
            log.error("tick: job failed: %s", line)
        summary = (
            f"{len(report.queued)} queued, {len(report.deferred)} deferred, "
            f"{len(report.suppressed)} suppressed, {len(report.errors)} failed"
        )
        leases.finish(self.app.db, TICK_LEASE, period, self.clock.now(), self.replica_id, summary)
        replicas.beat(self.app.db, self.replica_id, self.clock.now(), last_tick_at=now)
        self.wake.set()

    def _send(self) -> None:
        assert self.app is not None
        service = self.settings.service
        if time.monotonic() < self.send_paused_until:  # the server was unreachable
            return
        if not self.send_wanted and (
            time.monotonic() - self.last_send < service.send_every.as_timedelta().total_seconds()
        ):
            return
        self.last_send = time.monotonic()
        self.more_to_send = False
        journaled = self.settings.mail.backend == "imap"
        # Graph: Exchange's copy in Sent Items proves a send went out (mail/transport/graph.py).
        proof = getattr(self.app.transport.outgoing, "sent_copy_exists", None)
        # First the claims of a sender that is gone (at start-up: our own killed
        # predecessor's), so that its sends in flight are settled in this very sweep.
        if time.monotonic() - self.last_takeover >= TAKEOVER_SECONDS:
            self.last_takeover = time.monotonic()
            stale = self.clock.now() - service.replica_timeout.as_timedelta()
            release_dead_claims(self.app.db, self.clock.now(), stale)
        journal.settle_unknown(
            self.app.db,
            self.clock.now(),
            grace=service.journal_grace.as_timedelta(),
            journaled=journaled,
            synced_since=replicas.last_sync(self.app.db),
            journal_folder=self.journal_folder,
            proof=proof,
        )
        if journaled and self.watch is not None:  # the replica watching the mailbox prunes
            self.journal_folder.prune(self.clock.now().date())
        # One batch per iteration: a long backlog must not keep the loop from its other
        # duties (heartbeat, watchdog, signals); a full batch asks for the next one at once.
        report = send_due(
            self.app.db,
            self.app.transport.outgoing,
            self.clock,
            SEND_BATCH,
            lease=service.claim_lease.as_timedelta(),
            journal=journal.journal_address(self.settings.mail.address) if journaled else None,
            should_stop=self.stopping.is_set,
            release_when_unreachable=True,
            provable=proof is not None,
        )
        if report.unreachable:
            delay = SEND_BACKOFF[min(self.send_failures, len(SEND_BACKOFF) - 1)]
            self.send_failures += 1
            fault = (report.error and environmental(report.error)) or (
                f"mail server unreachable: {report.unreachable}"
            )
            if fault != self.send_fault:
                log.warning("outbox: %s; outgoing mail waits", fault)
            self.send_fault = fault
            self.send_paused_until = time.monotonic() + delay
            self._set_status(
                f"degraded: cannot send: {plain('mail server unreachable: ' + report.unreachable)}"
            )
            log.warning(
                "outbox: server unreachable (%s); next try in %s s", report.unreachable, delay
            )
            return
        self.send_failures = 0
        if self.send_fault:
            log.warning("outbox: the mail server takes mail again after %s", self.send_fault)
            self.send_fault = ""
        settled = len(report.sent) + len(report.failed) + len(report.deferred)
        if settled >= SEND_BATCH and not report.deferred:
            self.more_to_send = True
        if report.sent:
            replicas.beat(
                self.app.db, self.replica_id, self.clock.now(), last_send_at=self.clock.now()
            )

    def _heartbeat(self) -> bool:
        """Write the heartbeat when due (at every iteration during a fault: it is the write
        that tells the fault is over); True if it was written."""
        assert self.app is not None
        if not self.loop_fault and time.monotonic() - self.last_beat < HEARTBEAT_SECONDS:
            return False
        values: dict[str, object] = {"status": self.status_text[:500]}
        if self.watch is not None:
            values["watching"] = self.lock.mailbox if self.lock else None
            if self.watch.last_sync_at is not None:
                values["last_sync_at"] = self.watch.last_sync_at
        else:
            values["watching"] = None
        replicas.beat(self.app.db, self.replica_id, self.clock.now(), **values)
        self.last_beat = time.monotonic()
        if self.ready and not self.status_text.startswith(("ready", "critical")):
            self._set_status("ready")
        return True

    def _note_faults(self) -> None:
        """A fault of the machine (the watcher's or the loop's own) makes the status
        critical, naming it, and tells the admins once per episode (service/alarm.py)."""
        assert self.app is not None
        fault = self.loop_fault or (self.watch.fault if self.watch is not None else "")
        waits = "incoming mail waits"
        if not fault and self.send_fault:
            fault, waits = self.send_fault, "outgoing mail waits"
        if fault:
            self.fault_seen = time.monotonic()
            self.alarm.raised(self.app, fault, self.clock.now())
            since = self.alarm.since or self.clock.now()
            local = zoned(since, self.settings.tz)
            where = ""
            if category(fault) == "disk" and " at /" not in fault:  # which disk, then
                where = "".join(f"; {low}" for low in low_space(self.settings))
            # People read the status: the kind and a sentence; the raw text is in the log.
            said = plain(fault)
            self._set_status(f"critical: {said} (since {local}){where}; {waits}")
        elif self.alarm.fault:
            waiting = self._disk_still_short()
            if waiting is None:
                self.alarm.cleared(self.clock.now())
                self._set_status("ready" if self.ready else "starting")
            else:
                since = zoned(self.alarm.since or self.clock.now(), self.settings.tz)
                self._set_status(
                    f"critical: {plain(self.alarm.fault)} (since {since}); mail is applied "
                    f"again, the fault ends {waiting}"
                )
        else:  # between episodes: a fault mail that could not go is still owed
            self.alarm.settle(self.app)

    def _disk_still_short(self) -> str | None:
        """Hysteresis for a disk-full episode whose writes go through again: it ends only
        after DISK_SETTLE_SECONDS without a failed write AND once every filesystem has its
        free space back (space.Room.needed: [service] min_free_mb, or a quarter of a disk
        smaller than that), or after DISK_SHORT_SETTLE_SECONDS without a failed write. One
        large attachment, or a disk hovering at full, must not make the fault end and start
        again every few seconds. None when over, else what it waits
        for, in words."""
        if category(self.alarm.fault) != "disk":
            return None
        quiet = time.monotonic() - self.fault_seen
        if quiet < DISK_SETTLE_SECONDS:
            return f"after {DISK_SETTLE_SECONDS} s without a failed write"
        short = still_short(self.settings)
        if not short or quiet >= DISK_SHORT_SETTLE_SECONDS:
            return None
        rooms = "; ".join(f"{room} has {room.needed // MIB} MiB free" for room in short)
        return f"once {rooms}, or after {DISK_SHORT_SETTLE_SECONDS} s without a failed write"

    def _set_status(self, text: str) -> None:
        if text != self.status_text:
            self.status_text = text
            self.notifier.status(text)
            self._say_outside_the_ledger(text)

    def _say_outside_the_ledger(self, text: str) -> None:
        """A critical status also goes to a runtime file (service/beacon.py) at once: the
        ledger may be the very thing that cannot be written, and `collabd status` must turn
        critical at the first failed write, not when the heartbeat goes stale."""
        name = beacon.fault_name(self.settings.store_url, os.getpid())
        if text.startswith("critical"):
            since = self.alarm.since or self.clock.now()
            beacon.write_json(
                name,
                {
                    "replica": self.replica_id,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "status": text,
                    "since": since.isoformat(),
                },
            )
            self.beacon_written = True
        elif self.beacon_written:
            beacon.remove(name)
            self.beacon_written = False

    # --- reload and stop ----------------------------------------------------------------------
    def _reload(self) -> None:
        """SIGHUP: read the config and the rules file again. Validate both first; a bad
        file changes nothing (logged, and shown by `collabd status` until a reload loads)."""
        try:
            new = self.settings_override(load_settings(self.config_path))
            rules = load_rules(new.rules.file, new.tz)
        except CollabdError as exc:
            self._reload_refused(str(exc).replace("\n", "; "))
            return
        self._reload_problem("")
        if new == self.settings:
            if _same_rules(rules, self.rules):
                log.info("config reload: nothing changed")
                return
            assert self.app is not None
            self.rules = use_rules(self.app, rules)
            log.info("config reload: rules reloaded from %s", rules.source)
            return
        self.notifier.reloading()
        log.info("config reload: applying %s", self.config_path)
        self._stop_watching()
        self._close_app()
        old, self.settings = self.settings, new
        old_rules, self.rules = self.rules, rules
        try:
            self._open()
        except Exception as exc:  # e.g. the new database cannot be opened: keep the old
            log.error(
                "config reload failed, back to the old config: %s: %s", type(exc).__name__, exc
            )
            self._close_app()
            self.settings, self.rules = old, old_rules
            self._open()
            return
        logging.getLogger().setLevel(new.daemon.log_level.upper())

    def _reload_refused(self, problem: str) -> None:
        log.error("config reload refused, still running the old config and rules: %s", problem)
        when = zoned(self.clock.now(), self.settings.tz, seconds=False)
        self._reload_problem(f"reload refused at {when}: {problem}")

    def _reload_problem(self, problem: str) -> None:
        """Record (or clear) a refused reload in this replica's row, for `collabd status`."""
        if problem == self.rules_problem:
            return
        self.rules_problem = problem
        if self.app is not None:
            try:
                replicas.beat(self.app.db, self.replica_id, self.clock.now(), rules_problem=problem)
            except SQLAlchemyError as exc:  # the log line above still says it
                log.warning("could not record the reload problem: %s", exc)

    def _close_app(self) -> None:
        if self.app is not None:
            with contextlib.suppress(Exception):
                replicas.beat(self.app.db, self.replica_id, self.clock.now(), watching=None)
            self.app.close()
            self.app = None

    def _shutdown(self) -> None:
        self.notifier.stopping("stopping: finishing the work in hand")
        log.info("stopping", extra={"replica": self.replica_id})
        self._stop_watching()
        if self.app is not None:
            with contextlib.suppress(Exception):
                replicas.beat(
                    self.app.db,
                    self.replica_id,
                    self.clock.now(),
                    watching=None,
                    stopped_at=self.clock.now(),
                    status="stopped",
                )
            self._close_app()
        if self.beacon_written:
            beacon.remove(beacon.fault_name(self.settings.store_url, os.getpid()))
        log.info("stopped", extra={"replica": self.replica_id})


def _same_rules(new: Rules, old: Rules) -> bool:
    return (new.spec, new.source, new.zone) == (old.spec, old.source, old.zone)


def _floor(instant: datetime, every: timedelta) -> datetime:
    seconds = every.total_seconds()
    epoch = instant.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)
