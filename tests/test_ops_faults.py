"""Operational faults an admin meets in the first week, each on the real stack (`collabd run`
as a subprocess, real Postfix + Dovecot, SQLite and PostgreSQL): the fault is named for what
it is, the admin mail suggests the fixes for that fault, and nothing looks dead that is not.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.service_harness import Daemon, Workload, wait_until, write_config
from tests.test_recovery import check, fault_mails
from tests.test_service import status

pytestmark = pytest.mark.slow

FAST = {"claim_lease": "5s", "journal_grace": "15s", "send_every": "1s", "tick_every": "5s"}


def with_admin(config, admin: str):
    text = config.read_text("utf-8").replace("[daemon]\n", f'[daemon]\nadmins = ["{admin}"]\n', 1)
    config.write_text(text, "utf-8")
    return config


def test_a_wrong_imap_password_is_a_refused_sign_in_not_an_unreachable_server(
    mailstack, tmp_path, db_url
):
    work = Workload(mailstack, db_url, tmp_path / "data", owners=2, items=2)
    work.seed(tmp_path, 0)
    admin = mailstack.address(f"admin-{work.tag}")
    config = write_config(
        tmp_path / "collabd.toml", mailstack, db_url, tmp_path / "data", work.address, **FAST
    )
    text = config.read_text("utf-8").replace(
        f'password = "{mailstack.password}"', 'password = "not-the-password"'
    )
    config.write_text(text, "utf-8")
    with_admin(config, admin)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    try:
        code, report = wait_until(
            lambda: (
                (found := status(config))[1]["status"] == "critical"
                and check(found[1], "faults")["status"] == "critical"
                and found
            ),
            40,
            "status critical with the fault",
        )
        assert code == 2
        detail = check(report, "faults")["detail"]
        assert "mail server sign-in refused" in detail and "unreachable" not in detail
        (alarm,) = wait_until(lambda: fault_mails(mailstack, admin), 40, "the admin told")
        assert "邮件服务器拒绝登录" in alarm["Subject"]
        text = alarm.get_body(("plain",)).get_content()
        html = alarm.get_body(("html",)).get_content()
        for body in (text, html):
            assert "password" in body and "[mail.imap]" in body
            assert "磁盘" not in body and "数据库服务" not in body  # not another fault's fixes
        assert "mail server unreachable" not in daemon.log()
        code, _ = daemon.stop()
        assert code == 0
    finally:
        daemon.kill9()
        work.close()


def test_a_ledger_remounted_read_only_stops_the_start_with_one_line_and_exit_75(tmp_path):
    """No traceback: the fault and the ledger's file in one line; 75 lets systemd retry."""
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(data)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        collabd = [sys.executable, "-m", "daemon", "--data-dir", str(data)]
        created = subprocess.run([*collabd, "people", "list"], capture_output=True, cwd=REPO)
        assert created.returncode == 0, created.stderr
        subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
        result = subprocess.run(
            [*collabd, "run"], capture_output=True, text=True, cwd=REPO, timeout=60
        )
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
    assert result.returncode == 75, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "ledger read-only" in lines[0] and "read-only (EROFS)" in lines[0]
    assert str(data / "collabd.sqlite3") in lines[0]
    unit = (REPO / "systemd" / "collabd.service").read_text("utf-8")
    assert "Restart=on-failure" in unit and "RestartPreventExitStatus=78" in unit
