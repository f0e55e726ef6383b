"""`collabd status` tells the truth when the files on disk do not: a broken rules file does
not make an imported holiday notice look missing."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO


def notice_2027(tmp_path):
    """The 2026 notice moved to 2027 (weekday marks dropped: they would not agree)."""
    text = (REPO / "tests" / "holiday_notices" / "2026.txt").read_text("utf-8")
    text = text.replace("2026", "2027").replace("2025", "2026")
    text = re.sub(r"[、，,]?\s*周[一二三四五六日]", "", re.sub(r"（周.）", "", text))
    path = tmp_path / "2027.txt"
    path.write_text(text, "utf-8")
    return path


def check(cli, name: str) -> dict:
    _code, out, _ = cli("status", "--json", at="2026-12-03T10:00")
    return next(c for c in json.loads(out)["checks"] if c["name"] == name)


def test_a_broken_rules_file_keeps_the_imported_notice_in_the_calendar_check(
    cli, tmp_path, config_file
):
    cli.ok("calendar", "import", str(notice_2027(tmp_path)))
    assert check(cli, "calendar")["status"] == "ok"
    rules = tmp_path / "rules.toml"
    rules.write_text("[holidays]\nfallback = 12\n", "utf-8")
    config_file.write_text(
        config_file.read_text("utf-8") + f'\n[rules]\nfile = "{rules}"\n', "utf-8"
    )
    assert check(cli, "rules file")["status"] == "warning"
    calendar = check(cli, "calendar")
    assert calendar["status"] == "ok", calendar["detail"]


def test_a_broken_config_on_disk_still_lets_status_report_from_the_ledger(cli, config_file):
    cli.ok("people", "list")  # the ledger exists
    config_file.write_text(config_file.read_text("utf-8") + "\nbogus = [\n", "utf-8")
    code, out, err = cli("status", "--json")
    assert code != 78, err
    report = json.loads(out)
    names = [c["name"] for c in report["checks"]]
    assert "replicas" in names and "outbox" in names  # the ledger was read
    config = next(c for c in report["checks"] if c["name"] == "config")
    assert config["status"] == "warning" and str(config_file) in config["detail"]
    assert "not valid TOML" in config["detail"]
    code, _, err = cli("items", "list")  # every other command still refuses it
    assert code == 78
