"""A day in year 9999 or year 1 is a typo, not a plan: every way a deadline comes in (the
command line, a collaboration file, a 跟进台账 import, a reply) refuses it, instead of
storing it and failing every later tick on that item (second outside re-run, N2)."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage

import pytest

from daemon.mail.reply import parse_reply

from .conftest import DEMO

__all__: list[str] = []


def test_the_command_line_refuses_year_9999(demo_ledger, capsys):
    with pytest.raises(SystemExit) as exit_:
        demo_ledger(
            "items",
            "add",
            "--collab",
            "v2-launch",
            "--owner",
            "李娜",
            "长期任务",
            "--deadline",
            "9999-12-31",
        )
    assert exit_.value.code == 2 and "2099-12-31" in capsys.readouterr().err
    assert "长期任务" not in demo_ledger.ok("items", "list", "--collab", "v2-launch")


def test_a_collaboration_file_refuses_year_1(cli, tmp_path):
    cli.ok("people", "import", str(DEMO / "people.csv"))
    text = (DEMO / "collaboration.toml").read_text("utf-8")
    broken = tmp_path / "c.toml"
    broken.write_text(text.replace("2026-12-04", "0001-12-04", 1), "utf-8")
    code, _, err = cli("collab", "create", "--file", str(broken))
    assert code != 0 and "2000-01-01" in err


def test_a_reply_with_year_9999_is_not_a_date():
    reply = EmailMessage()
    reply["From"] = "li.na@example.com"
    reply["Subject"] = "回复：提醒"
    reply.set_content(
        "#1 延期至9999年12月31日，原因：以后再说\n#2 延期至2027年1月8日，原因：客户\n"
    )
    parsed = parse_reply(reply, today=date(2026, 12, 3))
    dues = [getattr(c, "due", None) for c in parsed.commands]
    assert date(2027, 1, 8) in dues
    assert not any(d is not None and d.year == 9999 for d in dues)
