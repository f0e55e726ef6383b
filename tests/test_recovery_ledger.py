"""A locked ledger under `collabd run` (a real subprocess, the real Postfix + Dovecot,
SQLite): while another process holds the ledger's write lock past the 15 s busy timeout,
arriving replies are never counted against, stay in the inbox, the log and `collabd
status` name the fault, and once the lock is released they are applied within 30 s."""

from __future__ import annotations

import sqlite3
import time

import pytest

from daemon.store.models import InboundStatus
from tests.service_harness import Daemon, Workload, wait_until, write_config
from tests.test_recovery import inbound_rows
from tests.test_service import status

pytestmark = pytest.mark.slow

FAST = {"claim_lease": "5s", "journal_grace": "15s", "send_every": "1s", "tick_every": "5s"}


def test_a_locked_ledger_counts_nothing_and_work_resumes_once_released(mailstack, tmp_path):
    path = tmp_path / "collabd.sqlite3"
    url = f"sqlite:///{path}"
    work = Workload(mailstack, url, tmp_path / "data", owners=3, items=3)
    work.seed(tmp_path, 0)
    config = write_config(
        tmp_path / "collabd.toml", mailstack, url, tmp_path / "data", work.address, **FAST
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    try:
        wait_until(lambda: "ready: watching the mailbox" in daemon.log(), 60, "watching")
        holder = sqlite3.connect(path, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")  # another process takes the write lock, and keeps it
        try:
            work.append(work.replies(3))
            wait_until(lambda: "fault: ledger locked" in daemon.log(), 60, "the fault noticed")
            time.sleep(5)  # another stopped pass: none may count against the mails
            assert work.collab_inbox_count() == 3  # still waiting in the inbox
            code, _ = wait_until(
                lambda: (found := status(config))[0] == 2 and found, 40, "status critical"
            )
            assert code == 2
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        released = time.monotonic()
        wait_until(
            lambda: all(
                inbound_rows(work).get(m, (None,))[0] is InboundStatus.APPLIED
                for m in work.reply_ids
            ),
            30,
            "every reply applied within 30 s of the lock's release",
        )
        waited = time.monotonic() - released
        code, _ = daemon.stop()
        assert code == 0
    finally:
        daemon.kill9()
    print(f"\napplied {waited:.1f} s after the lock was released")
    rows = inbound_rows(work)
    assert all(rows[m] == (InboundStatus.APPLIED, 1) for m in work.reply_ids), rows
    assert "quarantined after" not in daemon.log()
    work.close()
