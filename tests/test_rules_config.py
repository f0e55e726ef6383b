"""The rules file: the example is the embedded default, and mistakes exit 78 naming the
file, line, key and value."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.cli.main import main
from daemon.errors import ConfigError
from daemon.rules.config import RulesFile, load_rules
from daemon.rules.workdays import package_coverage

REPO = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Asia/Shanghai")


def test_example_file_is_the_embedded_default() -> None:
    example = load_rules(REPO / "config" / "rules.toml", ZONE)
    # the example spells out the timezone the embedded default takes from collabd.toml
    assert example.spec.model_copy(update={"timezone": ""}) == RulesFile()


def _check(tmp_path: Path, capsys, rules_text: str, out: list | None = None) -> tuple[int, str]:
    rules = tmp_path / "rules.toml"
    rules.write_text(rules_text, encoding="utf-8")
    config = tmp_path / "collabd.toml"
    config.write_text(
        f'[daemon]\ndata_dir = "{tmp_path / "data"}"\n[rules]\nfile = "rules.toml"\n', "utf-8"
    )
    code = main(["--config", str(config), "--at", "2026-11-23T09:00", "rules", "check"])
    captured = capsys.readouterr()
    if out is not None:
        out.append(captured.out)
    return code, captured.err


def test_bad_values_name_file_line_key_and_value(tmp_path: Path, capsys) -> None:
    text = (REPO / "config" / "rules.toml").read_text("utf-8")
    text = text.replace(
        'after = "2wd"\nto = ["owner", "owner_head"]', ('after = "2 days"\nto = ["owner", "boss"]')
    )
    text = text.replace('start = "20:00"', 'start = "8pm"')
    code, err = _check(tmp_path, capsys, text)
    assert code == 78
    rules = tmp_path / "rules.toml"
    lines = text.splitlines()
    after_line = lines.index('after = "2 days"') + 1
    assert f'{rules}:{after_line}: escalations.0.levels.1.after = "2 days": ' in err
    assert "is not a duration" in err
    assert f'{rules}:{after_line + 1}: escalations.0.levels.1.to.1 = "boss"' in err
    start_line = lines.index('start = "8pm"') + 1
    assert f'{rules}:{start_line}: quiet_hours.start = "8pm": a time of day is written' in err


def test_unknown_keys_and_rules_are_refused(tmp_path: Path, capsys) -> None:
    code, err = _check(tmp_path, capsys, '[reminders]\nbefor_deadline = ["1wd"]\n')
    assert code == 78
    assert (
        f"{tmp_path / 'rules.toml'}:2: reminders.befor_deadline = ['1wd']: unknown key "
        "(did you mean reminders.before_deadline?)"
    ) in err
    code, err = _check(tmp_path, capsys, '[[escalations]]\nid = "late"\ntriger = "overdue"\n')
    assert code == 78
    assert "escalations.0.triger" in err and "(did you mean escalations.0.trigger?)" in err
    code, err = _check(
        tmp_path, capsys, '[[inhibit]]\nsource = "escalation.late"\nsuppress = ["reminder.*"]\n'
    )
    assert code == 78
    assert 'inhibit.0.source = "escalation.late": no such rule' in err
    # a level the escalation never reaches: the inhibit would silently never apply
    text = (REPO / "config" / "rules.toml").read_text("utf-8")
    code, err = _check(tmp_path, capsys, text.replace("min_level = 2", "min_level = 9"))
    assert code == 78
    assert "inhibit.0.min_level = 9" in err and "would never apply" in err


def test_missing_rules_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such rules file"):
        load_rules(tmp_path / "nope.toml", ZONE)


def test_check_reports_coverage(tmp_path: Path, capsys) -> None:
    out: list[str] = []
    code, _ = _check(tmp_path, capsys, "", out)
    assert code == 0
    first, last = package_coverage()
    assert f"holiday data for {first}–{last}" in out[0]
    if last < 2027:  # as of 2026-11-23, next year's missing data is worth a warning
        assert "warning: no official holiday schedule for 2027" in out[0]
        assert "collabd calendar import NOTICE.txt --year 2027" in out[0]


def test_calendar_explain_says_why(cli) -> None:
    out = cli.ok("calendar", "explain", "2026-10-09", "-2wd")
    assert out.splitlines()[0] == "2026-10-09 -2wd = 2026-09-30"
    assert "2026-10-01 周四 ✗ 国庆节（法定假日）" in out  # [cli] locale zh-CN: Chinese only
