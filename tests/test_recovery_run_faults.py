"""`collabd run` meeting faults of the machine mid-run, on the real stack: the run keeps
going, no mail is counted or quarantined, `collabd status` names the fault while it lasts,
and the waiting replies are applied within 30 s of its end.

- the SQLite ledger's filesystem read-only: `collabd run` exits 75, status names it, the
  next start applies what waited;
- the data directory not writable for the daemon (permission denied: the daemon runs as
  root without CAP_DAC_OVERRIDE, the directory belongs to another user);
- PostgreSQL going away for the test database only: it stops accepting connections
  (ALLOW_CONNECTIONS false) and its sessions are ended with pg_terminate_backend, the
  shared server itself never stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.store.models import InboundStatus
from tests.conftest import _pg_admin
from tests.service_harness import REPO, Daemon, Workload, wait_until, write_config
from tests.test_recovery import check, done_with_file, inbound_rows
from tests.test_recovery_episodes import RAW, mount_tmpfs
from tests.test_service import status
from tests.test_service_outage import kill_sessions, pg_url

__all__ = ["pg_url"]

pytestmark = pytest.mark.slow

FAST = {"claim_lease": "5s", "journal_grace": "15s", "send_every": "1s", "tick_every": "5s"}
BOUND = 30  # seconds from the fault's end to every waiting reply applied (docs/operations.md)


def all_applied(work: Workload) -> bool:
    rows = inbound_rows(work)
    return all(rows.get(m, (None, 0))[0] is InboundStatus.APPLIED for m in work.reply_ids)


def nothing_counted(work: Workload) -> None:
    rows = inbound_rows(work)
    assert all(rows[m] == (InboundStatus.APPLIED, 1) for m in work.reply_ids), rows


def faults_detail(config: Path) -> tuple[int, str]:
    """status's exit code and what it says of the fault (the faults check, or why the
    ledger cannot be read)."""
    code, report = status(config)
    for name in ("faults", "ledger"):
        found = [c for c in report["checks"] if c["name"] == name and c["status"] == "critical"]
        if found:
            return code, found[0]["detail"]
    return code, ""


def test_a_read_only_ledger_exits_75_is_named_by_status_and_then_resumes(mailstack, tmp_path):
    """A filesystem with files open for writing cannot be remounted read-only (EBUSY): the
    admin's read-only ledger is met at a start, after a restart. `collabd run` exits 75
    (systemd tries again), `collabd status` names the fault in words, and once the ledger
    is writable the next start applies what waited."""
    disk = tmp_path / "ledger"
    mount_tmpfs(disk, "16m")
    url = f"sqlite:///{disk / 'collabd.sqlite3'}"
    try:
        work = Workload(mailstack, url, tmp_path / "data", owners=3, items=3)
        work.seed(tmp_path, 0)
        config = write_config(
            tmp_path / "collabd.toml", mailstack, url, tmp_path / "data", work.address, **FAST
        )
        work.app.db.dispose()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        work.append([done_with_file(work, n, b"x" * 1000) for n in (1, 2, 3)])
        refused = Daemon(config, tmp_path / "refused.log").start()
        assert refused.process is not None
        assert refused.process.wait(60) == 75, refused.log()
        assert "ledger read-only" in refused.log() and "Traceback" not in refused.log()
        code, detail = faults_detail(config)
        assert code == 2
        assert "read-only" in detail, detail
        assert not any(raw in detail for raw in RAW), detail
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        back = time.monotonic()
        daemon = Daemon(config, tmp_path / "daemon.log")
        daemon.start()
        try:
            wait_until(lambda: all_applied(work), BOUND, f"replies applied within {BOUND} s")
            waited = time.monotonic() - back
            code, _ = daemon.stop()
            assert code == 0
        finally:
            daemon.kill9()
        print(f"\napplied {waited:.1f} s after the ledger was writable again (a new start)")
        nothing_counted(work)
        assert "quarantined after" not in daemon.log()
        work.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def folders(root: Path) -> list[Path]:
    return [root, *(Path(top) / name for top, names, _ in os.walk(root) for name in names)]


class UnprivilegedDaemon(Daemon):
    """`collabd run` as root without the capabilities that let root write anywhere: file
    permissions then hold for it as for any user."""

    def start(self) -> Daemon:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    "setpriv",
                    "--inh-caps=-dac_override,-dac_read_search,-fowner",
                    "--bounding-set=-dac_override,-dac_read_search,-fowner",
                    sys.executable,
                    "-m",
                    "daemon",
                    "--config",
                    str(self.config),
                    "run",
                ],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        return self


def test_permission_denied_on_the_data_directory_mid_run_counts_nothing(
    mailstack, tmp_path, db_url
):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's override")
    data = tmp_path / "data"
    work = Workload(mailstack, db_url, data, owners=3, items=3)
    work.seed(tmp_path, 0)
    config = write_config(tmp_path / "collabd.toml", mailstack, db_url, data, work.address, **FAST)
    daemon = UnprivilegedDaemon(config, tmp_path / "daemon.log")
    daemon.start()
    try:
        wait_until(lambda: "ready: watching the mailbox" in daemon.log(), 60, "watching")
        for folder in folders(data):  # nobody's now: the daemon may read, not write
            os.chown(folder, 65534, 65534)
            folder.chmod(0o755)
        work.append([done_with_file(work, n, b"y" * 1000) for n in (1, 2, 3)])
        code, detail = wait_until(
            lambda: (found := faults_detail(config))[1] and found, 20, "the fault named"
        )
        assert code == 2
        assert "permission denied" in detail, detail
        assert not any(raw in detail for raw in RAW), detail
        time.sleep(8)
        assert daemon.alive()
        rows = inbound_rows(work)
        assert all(rows.get(m, (None, 0))[1] == 0 for m in work.reply_ids), rows
        for folder in folders(data):
            os.chown(folder, 0, 0)
        back = time.monotonic()
        wait_until(lambda: all_applied(work), BOUND, f"replies applied within {BOUND} s")
        waited = time.monotonic() - back
        code, _ = daemon.stop()
        assert code == 0
    finally:
        daemon.kill9()
    print(f"\napplied {waited:.1f} s after the permission came back")
    nothing_counted(work)
    assert "quarantined after" not in daemon.log()
    work.close()


def test_postgresql_going_away_mid_run_keeps_the_run_and_counts_nothing(
    mailstack, tmp_path, pg_url
):
    url, dbname = pg_url
    work = Workload(mailstack, url, tmp_path / "data", owners=3, items=3)
    work.seed(tmp_path, 0)
    config = write_config(
        tmp_path / "collabd.toml", mailstack, url, tmp_path / "data", work.address, **FAST
    )
    work.app.db.dispose()
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    try:
        wait_until(lambda: "ready: watching the mailbox" in daemon.log(), 60, "watching")
        work.app.db.dispose()
        with _pg_admin() as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
        assert kill_sessions(dbname) >= 1
        work.append([done_with_file(work, n, b"z" * 1000) for n in (1, 2, 3)])
        code, detail = wait_until(
            lambda: (found := faults_detail(config))[1] and found, 20, "the fault named"
        )
        assert code == 2
        assert "database" in detail, detail
        assert not any(raw in detail for raw in RAW), detail
        time.sleep(15)
        assert daemon.alive()
        with _pg_admin() as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        back = time.monotonic()
        wait_until(lambda: all_applied(work), BOUND, f"replies applied within {BOUND} s")
        waited = time.monotonic() - back
        wait_until(
            lambda: check(status(config)[1], "faults")["status"] == "ok", 20, "the fault over"
        )
        code, _ = daemon.stop()
        assert code == 0
    finally:
        with _pg_admin() as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        daemon.kill9()
    print(f"\napplied {waited:.1f} s after the database took connections again")
    nothing_counted(work)
    log = daemon.log()
    assert "quarantined after" not in log
    assert "database unreachable" in log  # the raw text is the log's
    work.close()
