"""`kill -9` at random moments must lose nothing and duplicate nothing.

1,000 replies sit in the collabd mailbox (real Dovecot) and 1,000 notifications are due in
the outbox; `collabd run` (a real subprocess, SMTP to the real Postfix) is killed with
SIGKILL at random moments at least 20 times and restarted each time. At the end every
reply was applied exactly once (history rows per reply's Message-ID, inbound log), every
queued mail is in its recipient's Dovecot INBOX exactly once (counted by Message-ID), and
nothing is in quarantine.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.service_harness import Daemon, Workload, wait_until, write_config

pytestmark = pytest.mark.slow

REPLIES = 1000
NOTIFICATIONS = 1000
KILLS = int(os.environ.get("COLLABD_TEST_KILLS", 20))
# Short leases so a killed replica's claims come free within the test's time.
FAST = {"claim_lease": "3s", "journal_grace": "3s", "send_every": "1s", "tick_every": "5s"}


@pytest.fixture(params=["sqlite"])
def crash_db_url(request, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'collabd.sqlite3'}"


def test_kill_9_twenty_times_nothing_lost_nothing_twice(mailstack, tmp_path, crash_db_url):
    work = Workload(mailstack, crash_db_url, tmp_path / "data")
    work.seed(tmp_path, NOTIFICATIONS)
    work.append(work.replies(REPLIES))
    config = write_config(
        tmp_path / "collabd.toml",
        mailstack,
        crash_db_url,
        tmp_path / "data",
        work.address,
        **FAST,
    )
    rng = random.Random(7)
    started = time.monotonic()
    kills = 0
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        while kills < KILLS:
            daemon.start()
            time.sleep(rng.uniform(0.3, 2.5))
            daemon.kill9()
            kills += 1
        daemon.start()
        wait_until(
            lambda: work.replies_done() and work.all_sent() and work.collab_inbox_count() == 0,
            timeout=240,
            what="every reply applied and every mail sent",
            every=1,
        )
        code, _ = daemon.stop()
        assert code == 0
    finally:
        daemon.kill9()
    elapsed = time.monotonic() - started
    print(f"\n{kills} kills; everything settled {elapsed:.0f} s after the first start")
    assert kills >= 20
    work.assert_exactly_once()
    work.close()
