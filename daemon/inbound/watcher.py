"""Watching the collabd mailbox: IMAP IDLE (or an EWS pull subscription: the same
`wait_for_new`), a rescan after every (re)connect, and reconnecting with backoff when the
server goes away.

The watcher never trusts a notification alone: every (re)connect starts with a full rescan
of the folder (mail may have arrived while it was away), and a full rescan also runs every
few minutes so a mail that failed once is retried. Between those, IDLE wake-ups fetch only
what is past the stored cursor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..mail.transport import ImapMailbox, TransportError
from .ingest import IngestReport, ingest_pass

if TYPE_CHECKING:
    from ..app import App

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 25 * 60  # servers may drop IDLE after 29 minutes (RFC 2177)
RESCAN_SECONDS = 5 * 60
BACKOFF_SECONDS = (1, 2, 5, 10, 30, 60)


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

    def run(self) -> None:
        failures = 0
        while not self.stop.is_set():
            try:
                self._watch()
                failures = 0
            except TransportError as exc:
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                # Exchange's throttling says how long to stay away (EWS BackOffMilliseconds).
                delay = max(delay, getattr(exc, "retry_after", None) or 0)
                failures += 1
                log.warning("mailbox %s: %s; reconnecting in %ss", self.mailbox.name, exc, delay)
                self.stop.wait(delay)
        self.mailbox.close()

    def _watch(self) -> None:
        """One connection's life: full rescan, then IDLE and incremental passes."""
        self._pass(full=True)
        last_full = time.monotonic()
        while not self.stop.is_set():
            wait = min(
                self.idle_seconds, max(1.0, last_full + self.rescan_seconds - time.monotonic())
            )
            woke = self.mailbox.wait_for_new(wait, self.stop)
            if self.stop.is_set():
                return
            full = time.monotonic() - last_full >= self.rescan_seconds
            if woke or full:
                self._pass(full=full)
                if full:
                    last_full = time.monotonic()

    def _pass(self, full: bool) -> None:
        report = ingest_pass(self.app, self.mailbox, full=full)
        self.last_sync = time.monotonic()
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
