"""The rules part of the demo runs end to end on the simulated clock and shows what it says."""

from __future__ import annotations

from daemon.demo.run import Demo


def test_rules_demo(tmp_path, capsys) -> None:
    lines: list[str] = []
    demo = Demo(tmp_path, out=lines.append)
    demo.run()  # the rules part runs inside the tour, after the coordinator's blocker
    text = "\n".join(lines) + capsys.readouterr().out  # commands print to stdout
    assert "2026-12-04 -2wd = 2026-12-02" in text
    assert "risk_check v2-launch#1 → 李娜" in text
    assert "escalation.blocked L1 v2-launch#3" in text
    assert "escalation.overdue L1 v2-launch#1 → 李娜" in text
    assert "escalation.overdue L2 v2-launch#1 → 李娜" in text
    assert "提醒原因：高优先级行动项，每个工作日提醒一次" in text  # the reminder she got
    assert "升级（第2级）" in text  # the level-2 escalation she received last
