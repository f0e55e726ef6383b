"""The systemd unit as systemd itself judges it: `systemd-analyze verify` (syntax, known
directives, an executable ExecStart) and `systemd-analyze security --offline=yes` (the
hardening score, which must stay at or below 2.0), plus the sample /etc/collabd layout."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "collabd.service"
SAMPLE_ETC = REPO / "systemd" / "etc" / "collabd"
INSTALLED_AT = "/opt/collabd/bin/collabd"


def _analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed: run tests/install-mailstack.sh")
    probe = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"systemd-analyze cannot run here: {probe.stderr.strip()}")
    return path


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit as installed by docs/operations.md, with ExecStart pointing at this
    checkout's collabd so `verify` can check that the program exists and is executable."""
    collabd = Path(sys.executable).parent / "collabd"
    assert collabd.exists(), "install collabd into the test venv first (pip install -e .)"
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED_AT in text
    copy = tmp_path / "collabd.service"
    copy.write_text(text.replace(INSTALLED_AT, str(collabd)), encoding="utf-8")
    return copy


def test_unit_passes_systemd_analyze_verify(unit: Path) -> None:
    result = subprocess.run(
        [_analyze(), "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # verify also prints warnings (unknown directives, bad values) without failing.
    assert "collabd.service" not in result.stderr, result.stderr


def test_unit_hardening_scores_at_most_two(unit: Path) -> None:
    result = subprocess.run(
        [_analyze(), "security", "--offline=yes", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    score = re.search(r"Overall exposure level for collabd\.service: (\d+\.\d+)", result.stdout)
    assert score, result.stdout[-2000:]
    assert float(score.group(1)) <= 2.0


def test_unit_is_a_notify_service_with_watchdog_and_state() -> None:
    settings = dict(
        line.split("=", 1)
        for line in UNIT.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert settings["Type"] == "notify"
    assert int(settings["WatchdogSec"]) > 0
    assert settings["Restart"] == "on-failure"
    assert settings["StateDirectory"] == "collabd"
    assert "/etc/collabd/" in settings["ExecStart"]
    assert "AF_UNIX" in settings["RestrictAddressFamilies"]  # sd_notify, PostgreSQL socket
    assert "78" in settings["RestartPreventExitStatus"]  # a config error is not retried


def test_sample_etc_layout_is_a_valid_config(tmp_path: Path) -> None:
    etc = tmp_path / "etc" / "collabd"
    shutil.copytree(SAMPLE_ETC, etc)
    config = etc / "collabd.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("/etc/collabd/", f"{etc}/"), encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "--config", str(config), "check-config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
