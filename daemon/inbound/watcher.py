"""Watching the collabd mailbox: IMAP IDLE (or an EWS pull subscription: the same
`wait_for_new`), a rescan after every (re)connect, and reconnecting with backoff when the
server goes away.

The watcher never trusts a notification alone: every (re)connect starts with a full rescan
of the folder (mail may have arrived while it was away), and a full rescan also runs every
few minutes. Between those, IDLE wake-ups fetch only what is past the stored cursor.

Mail left in the folder does not wait for that rescan. A pass stopped by a fault of the
machine (disk full, ledger read-only, database away: `report.fault`) is tried again after
1, 2, 5, 10, then every 30 s, so the waiting mail is applied at most 30 s after the fault
ends; a mail that failed on its own account is tried again after RETRY_FAILED_SECONDS.
A server that goes away is reconnected to on the same schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..mail.transport import ImapMailbox, SignInFailed, TransportError
from .faults import environmental
from .ingest import IngestReport, ingest_pass

if TYPE_CHECKING:
    from ..app import App

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 25 * 60  # servers may drop IDLE after 29 minutes (RFC 2177)
RESCAN_SECONDS = 5 * 60
BACKOFF_SECONDS = (1, 2, 5, 10, 30)  # passes a fault of the machine stopped; refused sign-ins
# Reconnecting to a server that does not answer: a refused TCP connect costs nothing, so
# it is tried every 5 s however long the outage (with the 30 s step, an admin who restored
# Dovecot after a long outage waited up to 30 s: review F5). A refused sign-in keeps the
# long steps: a wrong password tried every 5 s can lock the account.
RECONNECT_SECONDS = (1, 2, 5)
RETRY_FAILED_SECONDS = 30  # a mail that failed on its own account (MAX_ATTEMPTS in all)
NUDGE_POLL_SECONDS = 0.5  # how often a backing-off watcher looks for a nudge
UNREACHABLE_AFTER = 3  # failed reconnects in a row (1 + 2 + 5 s) that make it a fault


class MailboxWatcher:
    def __init__(
        self,
        app: App,
        mailbox: ImapMailbox,
        stop: threading.Event,
        *,
        after_pass: Callable[[IngestReport], None] | None = None,
        idle_seconds: float = IDLE_RENEW_SECONDS,
        rescan_seconds: float = RESCAN_SECONDS,
    ) -> None:
        self.app, self.mailbox, self.stop = app, mailbox, stop
        self.after_pass = after_pass or (lambda report: None)
        self.idle_seconds, self.rescan_seconds = idle_seconds, rescan_seconds
        self.last_sync: float | None = None  # monotonic time of the last finished pass
        self.retry_at: float | None = None  # monotonic: when mail left in the folder is retried
        self.faults = 0  # passes in a row a fault of the machine stopped
        self.reconnects = 0  # connections in a row that failed before their first pass
        # What keeps the mail from being applied now ("" when nothing): a fault of the
        # machine that stopped the last pass, or the mail server away for a while.
        self.fault = ""
        self.nudged = threading.Event()  # set by the main loop when a fault seems over

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._watch()
            except TransportError as exc:
                steps = BACKOFF_SECONDS if isinstance(exc, SignInFailed) else RECONNECT_SECONDS
                delay = steps[min(self.reconnects, len(steps) - 1)]
                # Exchange's throttling says how long to stay away (EWS BackOffMilliseconds).
                delay = max(delay, getattr(exc, "retry_after", None) or 0)
                self.reconnects += 1
                if self.reconnects >= UNREACHABLE_AFTER:  # not a blip: a fault
                    # A refused sign-in is told apart: its fix is a password, not a network.
                    self.fault = environmental(exc) or f"mail server unreachable: {exc}"
                log.warning("mailbox %s: %s; reconnecting in %ss", self.mailbox.name, exc, delay)
                self.stop.wait(delay)
        self.mailbox.close()

    def _watch(self) -> None:
        """One connection's life: full rescan, then IDLE and incremental passes, and a full
        pass whenever mail left in the folder is due for another try."""
        self._pass(full=True)
        self.reconnects = 0
        last_full = time.monotonic()
        while not self.stop.is_set():
            if self.faults and self.retry_at is not None:
                # Backing off: no IDLE (new mail waits with the rest), a full pass at the end,
                # or at once when the main loop saw the fault end (its write went through).
                self._back_off(self.retry_at)
                if not self.stop.is_set():
                    self._pass(full=True)
                    last_full = time.monotonic()
                continue
            due = min(last_full + self.rescan_seconds, self.retry_at or float("inf"))
            wait = min(self.idle_seconds, max(0.1, due - time.monotonic()))
            woke = self.mailbox.wait_for_new(wait, self.stop)
            if self.stop.is_set():
                return
            now = time.monotonic()
            retry = self.retry_at is not None and now >= self.retry_at
            full = retry or now - last_full >= self.rescan_seconds
            if woke or full:
                self._pass(full=full)
                if full:
                    last_full = time.monotonic()

    def nudge(self) -> None:
        """The fault may be over (the main loop's write went through): try now."""
        self.nudged.set()

    def _back_off(self, until: float) -> None:
        self.nudged.clear()
        while not self.stop.is_set() and not self.nudged.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(left, NUDGE_POLL_SECONDS))

    def _pass(self, full: bool) -> None:
        report = ingest_pass(self.app, self.mailbox, full=full)
        self.last_sync = time.monotonic()
        self.fault = report.fault
        if report.fault:
            delay = BACKOFF_SECONDS[min(self.faults, len(BACKOFF_SECONDS) - 1)]
            self.faults += 1
            self.retry_at = self.last_sync + delay
            log.error(
                "mailbox %s: %s; the mail waits in the folder, uncounted; next try in %ss",
                self.mailbox.name,
                report.fault,
                delay,
                extra={"mailbox": self.mailbox.name},
            )
        else:
            if self.faults:
                log.warning("mailbox %s: the fault has ended; passes go on", self.mailbox.name)
            self.faults = 0
            self.retry_at = self.last_sync + RETRY_FAILED_SECONDS if report.failed else None
        if report.handled or report.failed:
            log.info(
                "mailbox %s: %d applied, %d ignored, %d duplicate, %d failed, %d quarantined",
                self.mailbox.name,
                report.applied,
                report.ignored,
                report.duplicates,
                report.failed,
                report.quarantined,
            )
        self.after_pass(report)
