"""Three replicas of `collabd run` on one PostgreSQL ledger, the one watching the mailbox
killed with SIGKILL mid-run: another takes the mailbox over (advisory lock), its claimed
outbox rows and tick come free by lease, and at the end every reply is applied exactly once
and every mail is in its recipient's Dovecot INBOX exactly once."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import select

from daemon.store.models import ServiceReplica
from tests.conftest import _pg_admin, _pg_url
from tests.service_harness import Daemon, Workload, wait_until, write_config

pytestmark = pytest.mark.slow

# Half the crash test's volume: three replicas share two cores with PostgreSQL and the mail
# stack, and the point here is the takeover, not the volume.
REPLIES = 500
NOTIFICATIONS = 500
FAST = {"claim_lease": "5s", "journal_grace": "3s", "send_every": "1s", "tick_every": "2s"}


@pytest.fixture
def pg_url(pg_template):
    name = f"collabd_r_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _pg_url(name)
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def watchers(work: Workload) -> dict[str, str | None]:
    with work.app.db.transaction() as session:
        return {
            r.id: r.watching
            for r in session.scalars(
                select(ServiceReplica).where(ServiceReplica.stopped_at.is_(None))
            )
        }


def test_three_replicas_one_killed_nothing_lost_nothing_twice(mailstack, tmp_path, pg_url):
    work = Workload(mailstack, pg_url, tmp_path / "data")
    work.seed(tmp_path, NOTIFICATIONS)
    work.append(work.replies(REPLIES))
    config = write_config(
        tmp_path / "collabd.toml", mailstack, pg_url, tmp_path / "data", work.address, **FAST
    )
    daemons = [Daemon(config, tmp_path / f"replica{i}.log") for i in range(3)]
    started = time.monotonic()
    try:
        for daemon in daemons:
            daemon.start()
        # Exactly one of them watches the mailbox.
        wait_until(lambda: sum(1 for w in watchers(work).values() if w) == 1, 30, "a watcher")
        wait_until(
            lambda: sum(1 for s in work.inbound().values() if s == "applied") >= REPLIES // 4,
            120,
            "a quarter of the replies applied",
        )
        (watching,) = [rid for rid, w in watchers(work).items() if w]
        victim = next(d for d in daemons if f":{d.pid}:" in watching)
        victim.kill9()
        # Another replica takes the mailbox over, and only one.
        wait_until(
            lambda: any(w for rid, w in watchers(work).items() if rid != watching),
            30,
            "another replica watching",
        )
        assert sum(1 for rid, w in watchers(work).items() if w and rid != watching) == 1
        wait_until(
            lambda: work.replies_done() and work.all_sent() and work.collab_inbox_count() == 0,
            300,
            "every reply applied and every mail sent",
            every=1,
        )
        survivors = [d for d in daemons if d is not victim]
        for daemon in survivors:
            code, _ = daemon.stop()
            assert code == 0
    finally:
        for daemon in daemons:
            daemon.kill9()
    print(f"\n3 replicas, one killed; settled {time.monotonic() - started:.0f} s after start")
    logs = [d.log() for d in daemons]
    assert sum("sent <" in log for log in logs) >= 2  # the sending was shared
    work.assert_exactly_once()
    work.close()
