"""What commands print for people says ledger values in words (issue 16): statuses, roles,
priorities and answers in the `[cli] locale` (zh-CN by default, en when configured), never
the ledger's ids (not_started, needs_action, lead, chair …). --json keeps the ids."""

from __future__ import annotations

import json
import re

from tests.conftest import DEMO, Cli

ENGINE = re.compile(
    r"\b(not_started|in_progress|needs_support|needs_action|scheduled|lead|observer"
    r"|chair|required|optional|high|normal|low|active|archived)\b"
)
SCREENS = (
    ("collab", "show", "v2-launch"),
    ("collab", "list"),
    ("items", "list", "--collab", "v2-launch"),
    ("meeting", "list", "--all"),
    ("meeting", "show", "1"),
)


def _ledger(cli: Cli) -> None:
    cli.ok("people", "import", str(DEMO / "people.csv"))
    cli.ok("collab", "create", "--file", str(DEMO / "collaboration.toml"))
    cli.ok(
        "meeting", "schedule", "--collab", "v2-launch", "--title", "V2.0 进度同步会",
        "--start", "2026-11-25T14:00", "--duration", "60", "--attendee", "市场部",
    )  # fmt: skip
    cli.ok("items", "update", "v2-launch#2", "--status", "needs_support", "--note", "需要设计")


def _tables(out: str) -> str:
    """The values a person reads, without the history (its lines name the command typed;
    the history's wording is another matter)."""
    return "\n".join(
        line for line in out.splitlines() if "collabd " not in line and not line.startswith("-")
    )


def test_commands_print_words_in_chinese_by_default(cli: Cli):
    _ledger(cli)
    for argv in SCREENS:
        shown = _tables(cli.ok(*argv, at="2026-11-24T09:00"))
        assert not ENGINE.findall(shown), (argv, shown)
    collab = cli.ok("collab", "show", "v2-launch", at="2026-11-24T09:00")
    assert "主导" in collab and "配合" in collab and "监督" in collab and "需支持" in collab
    items = cli.ok("items", "list", "--collab", "v2-launch", at="2026-11-24T09:00")
    assert "未开始" in items and "高" in items
    meeting = cli.ok("meeting", "show", "1", at="2026-11-24T09:00")
    assert "已安排" in meeting and "主持" in meeting and "未答复" in meeting
    # the history in words: no ids, no None
    item = cli.ok("items", "show", "v2-launch#2", at="2026-11-24T09:00")
    assert "状态：未开始 → 需支持" in item and "新建 #2" in item and "None" not in item
    assert "已安排 V2.0 进度同步会" in meeting and "None" not in meeting
    assert "行动项 状态：未开始 → 需支持" in collab and "None" not in collab
    listed = json.loads(cli.ok("items", "list", "--collab", "v2-launch", "--json"))
    assert {i["status"] for i in listed} == {"not_started", "needs_support"}  # ids for scripts


def test_commands_print_words_in_english_when_configured(cli: Cli):
    cli.config.write_text(
        cli.config.read_text("utf-8") + '\n[cli]\nlocale = "en"\n', encoding="utf-8"
    )
    _ledger(cli)
    collab = cli.ok("collab", "show", "v2-launch", at="2026-11-24T09:00")
    assert "lead" in collab and "observer" in collab and "needs support" in collab
    assert "主导" not in collab
    meeting = cli.ok("meeting", "show", "1", at="2026-11-24T09:00")
    assert "no answer" in meeting and "未答复" not in meeting
    assert "scheduled V2.0 进度同步会" in meeting
    item = cli.ok("items", "show", "v2-launch#2", at="2026-11-24T09:00")
    assert "status: not started → needs support" in item
