"""Outages while `collabd run` works through a backlog: Dovecot and Postfix stopped for 30 s
(on a mail stack of this test's own, so no other test loses its servers), and the daemon's
PostgreSQL sessions killed with pg_terminate_backend (the shared server itself is never
stopped). collabd logs, backs off, reconnects, and finishes with nothing lost and nothing
sent twice."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import _pg_admin, _pg_url
from tests.mailstack import MailStack
from tests.service_harness import Daemon, Workload, wait_until, write_config

pytestmark = pytest.mark.slow

REPLIES = 300
NOTIFICATIONS = 300
OUTAGE_SECONDS = 30
FAST = {"claim_lease": "5s", "journal_grace": "3s", "send_every": "1s", "tick_every": "2s"}


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory) -> MailStack:
    """A second mail stack, five ports above this session's, in a folder of its own."""
    probe = MailStack()
    stack = MailStack(base_dir=Path(f"{probe.base_dir}-outage"))
    stack.smtp_port, stack.imap_port = probe.smtp_port + 5, probe.imap_port + 5
    # Every port of its own, or it cannot start beside this session's stack.
    stack.submission_port = probe.submission_port + 5
    stack.introspection_port = probe.introspection_port + 5
    stack.start()
    yield stack
    stack.stop()


def stop_mail_servers(stack: MailStack) -> None:
    stack._stop_daemons()


def start_mail_servers(stack: MailStack) -> None:
    # The same configuration and mail store: only the processes were gone.
    stack._start_dovecot()
    stack._start_postfix()
    stack._wait_for_greeting(stack.smtp_port, b"220 ")
    stack._wait_for_greeting(stack.imap_port, b"* OK")


@pytest.fixture
def pg_url(pg_template):
    name = f"collabd_o_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _pg_url(name), name
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def kill_sessions(dbname: str) -> int:
    with _pg_admin() as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND application_name NOT LIKE 'pytest%%'",
            (dbname,),
        ).fetchall()
    return len(rows)


def test_mail_servers_and_database_go_away_and_come_back(own_stack, tmp_path, pg_url):
    url, dbname = pg_url
    work = Workload(own_stack, url, tmp_path / "data", owners=30, items=REPLIES)
    work.seed(tmp_path, NOTIFICATIONS)
    work.append(work.replies(REPLIES))
    config = write_config(
        tmp_path / "collabd.toml", own_stack, url, tmp_path / "data", work.address, **FAST
    )
    work.app.db.dispose()  # the test's own sessions must not be among those killed
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    try:
        wait_until(lambda: len(work.inbound()) >= 50, 60, "work under way")
        stop_mail_servers(own_stack)
        time.sleep(OUTAGE_SECONDS)
        assert daemon.alive()
        start_mail_servers(own_stack)
        work.app.db.dispose()
        killed = kill_sessions(dbname)
        assert killed >= 1
        time.sleep(3)
        kill_sessions(dbname)
        wait_until(
            lambda: work.replies_done() and work.all_sent() and work.collab_inbox_count() == 0,
            180,
            "every reply applied and every mail sent after the outages",
            every=1,
        )
        code, _ = daemon.stop()
        assert code == 0
    finally:
        daemon.kill9()
    log = daemon.log()
    assert "reconnecting in" in log  # the watcher noticed and backed off
    assert "server unreachable" in log or "deferred" in log  # so did the sender
    # Stopping Postfix and Dovecot mid-delivery may make the MTA deliver a mail it had
    # already handed over once more (same queue id): that is the mail system's
    # at-least-once, not collabd sending twice, which assert_exactly_once still forbids.
    redelivered = work.assert_exactly_once(mta_redelivery_allowed=True)
    print(f"\n{redelivered} mail(s) redelivered by the MTA after its restart")
    work.close()
