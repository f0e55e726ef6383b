"""What a new user meets first: the demo runs clean, and the package installs whole."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
import tomllib
from pathlib import Path

from daemon.mail.render import Renderer
from daemon.store.models import ItemStatus, Priority
from tests.conftest import REPO


def test_demo_runs_to_a_clean_exit_and_leaves_real_mail(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warnings or tracebacks for a first-time user
    out = result.stdout
    assert "imported" in out and "7 new" in out
    assert "created collaboration v2-launch" in out
    assert "sent 10, deferred 0, failed 0" in out  # 王强 also as 协作人 of #3
    assert "v2-launch#3 状态：未开始 → 阻塞" in out
    # the owner's reply is read, applied and answered in her thread
    assert "applied 1, ignored 0, duplicates 0, failed 0, quarantined 0" in out
    assert "#1 → 进行中 60% ✓" in out and "#9：本协作没有这个行动项" in out
    assert any(  # history source: her mail's Message-ID
        "li.na@example.com" in line and line.endswith("<20261127163000.demo@example.com>")
        for line in out.splitlines()
    )
    # the coordinator's toolkit: 转交, a dependency firing, the next meeting, an import
    assert "v2-launch#4 负责人：Emily Chen <emily.chen@example.com> → 李娜 <li.na@" in out
    assert "[collab v2-launch] #7 can start: #6 done" in out
    assert "next meeting (下次会议): meeting" in out and "scheduled 2026-12-16 10:00" in out
    assert "imported 3 action items into v2-launch (v2-launch#9 … v2-launch#11)" in out
    overdue = out.split("items list --overdue")[1].split("\n$ ")[0]
    assert "v2-launch#1" in overdue and "v2-launch#3" not in overdue
    delivered = list((tmp_path / "maildir" / "li.na@example.com" / "new").iterdir())
    subjects = sorted(
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]
        for p in delivered
    )
    # Her mailbox holds (at least: later demo parts add more) the mails of the tour above.
    assert {
        "[协作 v2-launch] 产品V2.0版本研发协作：协作启动通知",
        "[协作 v2-launch] 您负责的行动项：#1",
        "[协作 v2-launch] 会议邀请：V2.0 进度同步会（2026-11-25 14:00）",
        "回复：[协作 v2-launch] 您负责的行动项：#1",  # collabd's own subject
    } <= set(subjects)


def test_every_package_is_listed_for_installation():
    """pyproject lists packages by hand (templates/ is mapped in); a forgotten one would make
    `pip install .` ship a collabd that cannot import itself."""
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "daemon").rglob("__init__.py")
    }
    on_disk.add("daemon.templates")
    assert listed == on_disk


def test_templates_exist_in_both_locales_and_escape_html():
    names = {p.name for p in (REPO / "templates" / "zh-CN").iterdir()}
    assert names == {p.name for p in (REPO / "templates" / "en").iterdir()}

    class Person:
        name, email = "<b>Eve</b>", "eve@example.com"

    class Item:
        number, description, done_criteria, deadline = 1, "<script>x</script>", "", None
        priority, status, progress = Priority.LOW, ItemStatus.NOT_STARTED, 0
        collaborators, support_needed, depends_on = [], "", []

    class Collab:
        code, theme = "c1", "A & B"

    mail = Renderer(timezone=None).render(
        "items_assigned", "en", recipient=Person(), collab=Collab(), items=[Item()]
    )
    assert "&lt;script&gt;" in mail.html and "<script>" not in mail.html
    assert "#1 <script>x</script>" in mail.text  # plain text is not markup: shown as typed
    assert mail.subject == "[collab c1] Action items you own: #1"


def test_readme_starts_with_the_two_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    head = readme[:1500]
    assert "collabd demo" in head and "./tests/run" in head
    run = Path(REPO / ".ci" / "run").read_text()
    assert "tests/run" in run
