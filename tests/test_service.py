"""`collabd run` as systemd runs it: a real subprocess on the real mail stack, reporting to
a notify socket of the test's own (READY, WATCHDOG, STATUS, STOPPING), stopping cleanly on
SIGTERM, reloading on SIGHUP, and `collabd status` telling a monitor whether it is healthy.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from daemon.cli.main import main as collabd_main
from daemon.config import validate
from daemon.service import runner as service_runner
from daemon.service.runner import Service
from daemon.store.models import OutboxMessage, OutboxStatus, ServiceLease
from tests.service_harness import (
    REPO,
    Daemon,
    NotifySocket,
    Workload,
    running,
    wait_until,
    write_config,
)

FAST = {"claim_lease": "5s", "journal_grace": "3s", "send_every": "1s", "tick_every": "2s"}


def status(config: Path) -> tuple[int, dict]:
    """`collabd status --json`: its exit code and report, run in this process. The same
    command a monitor runs, without the ~2 s (more under load) a fresh interpreter takes to
    import collabd: tests poll it while waiting for the daemon, and that import was most of
    their time. status_process() runs it as a monitor does, for the test that checks so."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = collabd_main(["--config", str(config), "status", "--json"])
    return code, json.loads(out.getvalue())


def status_process(config: Path) -> tuple[int, dict]:
    """`collabd status --json` in a process of its own, as systemd or a monitor runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "--config", str(config), "status", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    return result.returncode, json.loads(result.stdout)


@pytest.fixture
def small(mailstack, tmp_path, db_url):
    work = Workload(mailstack, db_url, tmp_path / "data", owners=3, items=6)
    work.seed(tmp_path, notifications=3)
    config = write_config(
        tmp_path / "collabd.toml", mailstack, db_url, tmp_path / "data", work.address, **FAST
    )
    yield work, config
    work.close()


def test_run_is_ready_pings_the_watchdog_serves_and_stops_on_sigterm(small, tmp_path):
    work, config = small
    notify = NotifySocket(tmp_path)
    daemon = Daemon(config, tmp_path / "daemon.log", notify, WATCHDOG_USEC=4_000_000)
    with running(daemon):
        ready = notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1", after=ready)  # pinged only once the loop runs healthy
        work.append(work.replies(2))
        wait_until(lambda: work.replies_done() and work.all_sent(), 30, "replies answered")
        wait_until(lambda: status(config)[1]["last_tick_at"], 10, "a tick recorded")
        code, report = status_process(config)  # as a monitor runs it: a process of its own
        checks = {check["name"]: check["status"] for check in report["checks"]}
        assert checks["replicas"] == checks["mailbox"] == checks["ticks"] == "ok", report
        assert checks["outbox"] == "ok" and report["outbox_backlog"] == 0
        assert code == max(0, 1 if "warning" in checks.values() else 0)
        code, seconds = daemon.stop()
    assert code == 0 and seconds < 5
    notify.wait_for("STOPPING=1")
    assert any(m.startswith("STATUS=ready") for m in notify.messages)
    notify.close()
    log = daemon.log()
    # One event per line, its time with the offset (ISO 8601), the Message-ID as a field.
    stamped = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d [A-Z]+ \S+: "
    assert all(re.match(stamped, line) for line in log.splitlines())
    assert f"message_id={work.reply_ids[0]}" in log
    # Stopped replicas are not alive: status now says critical (exit 2).
    code, report = status_process(config)
    assert code == 2 and report["status"] == "critical"


def test_sighup_with_a_bad_config_keeps_the_old_one_and_says_why(small, tmp_path):
    work, config = small
    notify = NotifySocket(tmp_path)
    daemon = Daemon(config, tmp_path / "daemon.log", notify)
    good = config.read_text(encoding="utf-8")
    with running(daemon):
        notify.wait_for("READY=1")
        config.write_text(good.replace('tick_every = "2s"', 'tick_every = "soon"'), "utf-8")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: "config reload refused" in daemon.log(), 10, "the refusal logged")
        refusal = next(line for line in daemon.log().splitlines() if "reload refused" in line)
        assert f'{config}: service.tick_every = "soon"' in refusal
        # Still serving on the old config.
        work.append(work.replies(1))
        wait_until(lambda: work.replies_done() and work.all_sent(), 30, "the reply answered")
        # A good change is applied, and systemd hears READY=1 again.
        mark = len(notify.messages)
        config.write_text(good.replace('tick_every = "2s"', 'tick_every = "3s"'), "utf-8")
        daemon.signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1", after=mark)
        notify.wait_for("READY=1", after=mark)
        assert "config reload: applying" in daemon.log()
        code, _ = daemon.stop()
    assert code == 0
    notify.close()


def test_status_is_critical_when_no_replica_runs(cli):
    code, out, _ = cli("status", at=None)
    assert code == 2
    assert out.startswith("collabd CRITICAL")
    assert "no `collabd run` replica has a fresh heartbeat" in out
    # F17: a cron user of `collabd ingest` / `tick` learns that status watches the daemon
    assert "never been read by `collabd run` (ingest by hand does not count)" in out
    assert "never ticked in `collabd run` (tick by hand does not count)" in out
    code, out, _ = cli("status", "--json", at=None)
    report = json.loads(out)
    assert code == 2 and report["status"] == "critical"
    assert {c["name"] for c in report["checks"]} >= {"mailbox", "ticks", "outbox", "calendar"}


def test_a_failing_tick_is_logged_and_the_loop_goes_on(tmp_path, db_url, monkeypatch, caplog):
    """In-process, on the maildir transport: run_tick raises every time; the loop logs it,
    keeps ticking on schedule, keeps its heartbeat and keeps sending mail."""
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / "data")},
            "store": {"url": db_url},
            "service": {"tick_every": "1s", "send_every": "1s"},
        },
        "test",
    )
    calls = []
    service = Service(settings, None)

    def broken_tick(app, now):
        calls.append(now)
        if len(calls) == 3:  # stop on the third failure, however slow the machine is
            service.stopping.set()
        raise RuntimeError("rule exploded")

    monkeypatch.setattr(service_runner, "run_tick", broken_tick)
    # Only a safety net: a loop that stopped ticking after the first failure ends here.
    safety = threading.Timer(120.0, service.stopping.set)
    safety.start()
    caplog.set_level("INFO")
    try:
        assert service.run() == 0
    finally:
        safety.cancel()
    assert len(calls) == 3  # it kept ticking
    failures = [r for r in caplog.records if "job tick failed" in r.getMessage()]
    assert len(failures) == len(calls) and failures[0].exc_info
    # The lease was given back each time, not left to block the other replicas.
    from daemon.app import App

    app = App(settings)
    with app.db.transaction() as session:
        lease = session.get(ServiceLease, "tick")
        assert lease is not None and lease.holder is None and lease.done_at is None
        assert session.query(OutboxMessage).filter_by(status=OutboxStatus.PENDING).count() == 0
    app.close()


def test_status_is_critical_when_the_ledger_is_unreachable(tmp_path):
    config = tmp_path / "collabd.toml"
    config.write_text(
        f'[daemon]\ndata_dir = "{tmp_path}"\n[store]\n'
        'url = "postgresql://postgres@127.0.0.1:9/nowhere?connect_timeout=2"\n',
        encoding="utf-8",
    )
    code, report = status(config)
    assert code == 2 and report["status"] == "critical"
    assert report["checks"][0]["detail"].startswith("the ledger cannot be read")


def test_sighup_with_a_broken_rules_file_keeps_the_old_rules_and_status_says_so(small, tmp_path):
    _work, config = small
    rules = tmp_path / "rules.toml"
    rules.write_text('[risk_check]\nbefore_deadline = "2wd"\n', encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    config.write_text(text + f'\n[rules]\nfile = "{rules}"\n', encoding="utf-8")
    notify = NotifySocket(tmp_path)
    daemon = Daemon(config, tmp_path / "daemon.log", notify)
    with running(daemon):
        notify.wait_for("READY=1")
        rules.write_text('[risk_check]\nbefore_deadline = "soon"\n', encoding="utf-8")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: "config reload refused" in daemon.log(), 10, "the refusal logged")
        refusal = next(line for line in daemon.log().splitlines() if "reload refused" in line)
        assert f'{rules}:2: risk_check.before_deadline = "soon"' in refusal

        def reload_check():
            checks = {c["name"]: c for c in status(config)[1]["checks"]}
            return checks.get("reload")

        wait_until(reload_check, 10, "status showing the refused reload")
        assert reload_check()["status"] == "warning"
        assert "risk_check.before_deadline" in reload_check()["detail"]
        assert "the rules loaded before keep running" in reload_check()["detail"]
        # Ticks go on with the old rules: no rule failure.
        checks = {c["name"]: c["status"] for c in status(config)[1]["checks"]}
        assert checks["rules"] == "ok"
        # A good edit is loaded on the next SIGHUP, and the warning goes.
        rules.write_text('[risk_check]\nbefore_deadline = "3wd"\n', encoding="utf-8")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: "rules reloaded from" in daemon.log(), 10, "the rules reloaded")
        wait_until(lambda: reload_check() is None, 10, "the warning cleared")
        code, _ = daemon.stop()
    assert code == 0
    notify.close()
