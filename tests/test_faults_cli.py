"""Faults of the machine as an admin meets them outside the daemon's own loop:

- a CLI command against a database it cannot reach (PostgreSQL at a closed port) or a
  ledger another process holds the SQLite write lock of prints one line naming the fault
  and where (password masked), no traceback, and exits 69 (EX_UNAVAILABLE);
- the fault mail to the admins (real Postfix + Dovecot) goes once per episode and at most
  `daemon.fault_mails_per_hour` an hour, and both bounds survive a restart: a replica
  systemd restarts into the same fault does not mail again.
"""

from __future__ import annotations

import email
import email.policy
import socket
import sqlite3
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.service import alarm
from tests.conftest import DEMO, REPO, START, Cli


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


def test_a_database_that_cannot_be_reached_is_one_line_not_a_traceback(tmp_path):
    config = tmp_path / "collabd.toml"
    url = f"postgresql+psycopg://collabd:s3cret@127.0.0.1:{_closed_port()}/test"
    config.write_text(
        f'[daemon]\ndata_dir = "{tmp_path / "data"}"\n[store]\nurl = "{url}"\n', "utf-8"
    )
    for command in (["items", "list"], ["tick"], ["people", "list"]):
        done = subprocess.run(
            [sys.executable, "-m", "daemon", "--config", str(config), *command],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
            timeout=60,
        )
        assert done.returncode == 69, (command, done.stderr)
        (line,) = done.stderr.strip().splitlines()  # one line, no traceback
        assert line.startswith("collabd: error: database unreachable: ")
        assert "Connection refused" in line and "s3cret" not in line
        assert "store.url = postgresql+psycopg://collabd:****@127.0.0.1:" in line


def test_a_ledger_locked_by_another_process_is_named_not_a_traceback(cli: Cli, tmp_path, capsys):
    cli.ok("people", "import", str(DEMO / "people.csv"))
    cli.ok("collab", "create", "--file", str(DEMO / "collaboration.toml"))
    path = next(tmp_path.rglob("*.sqlite3"), None)
    if path is None:
        pytest.skip("a lock on the ledger file is SQLite's")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        code, out, err = cli(
            "items", "add", "--collab", "v2-launch", "--owner", "王强", "锁住", "--deadline",
            "2026-12-08",
        )  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 69
    assert err.strip().splitlines() == [
        f"collabd: error: ledger locked: database is locked (store.url = sqlite:///{path})"
    ]
    out = cli.ok("items", "list", "--collab", "v2-launch")
    assert "锁住" not in out  # nothing half-written


@pytest.fixture
def alarm_app(mailstack, tmp_path, db_url):
    admin = mailstack.address(f"admin-{uuid.uuid4().hex[:8]}")
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / "data"), "admins": [admin]},
            "store": {"url": db_url},
            "mail": {
                "backend": "imap",
                "address": mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}"),
                "smtp": {"host": "127.0.0.1", "port": mailstack.smtp_port, "security": "none"},
                "imap": {
                    "host": "127.0.0.1",
                    "port": mailstack.imap_port,
                    "security": "none",
                    "password": "secret",
                },
            },
        },
        "test",
    )
    app = App(settings, clock=FixedClock(START))
    (tmp_path / "data").mkdir(exist_ok=True)
    yield app, admin
    app.close()


def _raise(record, app, fault: str, at) -> alarm.AdminAlarm:
    """A replica (a fresh AdminAlarm reading the record, as after a restart) meets `fault`."""
    watcher = alarm.AdminAlarm(record, per_hour=1)
    watcher.raised(app, fault, at)
    if watcher.thread is not None:
        watcher.thread.join(30)
    return watcher


def _end(watcher: alarm.AdminAlarm) -> None:
    """The episode ends with a good pass."""
    watcher.told = True
    watcher.cleared()


def test_fault_mails_are_bounded_per_episode_and_per_hour_across_restarts(
    alarm_app, mailstack, tmp_path, monkeypatch
):
    app, admin = alarm_app
    monkeypatch.setattr(alarm, "MAIL_AFTER_SECONDS", 0)  # the 10 s grace is not under test
    record = tmp_path / "data" / alarm.RECORD
    now = START
    _raise(record, app, "disk full (ENOSPC) at /data", now)
    assert len(mailstack.wait_for_mail(admin, count=1)) == 1
    # systemd restarts the replica into the same fault: no second mail for the episode.
    _raise(record, app, "disk full (ENOSPC) at /data", now + timedelta(minutes=2))
    # The episode ends; the same kind again within the hour: over the bound, not mailed.
    ended = alarm.AdminAlarm(record, per_hour=1)
    ended.raised(app, "disk full (ENOSPC) at /data", now + timedelta(minutes=3))
    _end(ended)
    _end(_raise(record, app, "disk full (ENOSPC) at /data", now + timedelta(minutes=10)))
    # Another kind of fault within the hour is mailed: the bound is per kind (review F6:
    # the admin who fixed the disk never heard that the mail server went away) …
    _end(_raise(record, app, "database unreachable: refused", now + timedelta(minutes=12)))
    # … once an hour: its next episode 18 min later is not, one 61 min later is.
    _end(_raise(record, app, "database unreachable: refused", now + timedelta(minutes=30)))
    _raise(record, app, "database unreachable: refused", now + timedelta(minutes=73))
    mailstack.wait_until_delivered()
    mails = [
        email.message_from_bytes(raw, policy=email.policy.default)
        for raw in mailstack.wait_for_mail(admin, count=3, timeout=15)
    ]
    assert len(mails) == 3  # the restart and the per-kind hourly bound each held one back
    assert "磁盘已满（ENOSPC）" in mails[0]["Subject"]
    assert "数据库连不上" in mails[1]["Subject"] and "数据库连不上" in mails[2]["Subject"]
