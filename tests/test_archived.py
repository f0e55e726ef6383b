"""Archived means read-only everywhere (issue 16): archiving over open work is refused with
the open work listed unless --force; afterwards no command changes the collaboration, and no
invitation, reminder, chase or minutes request goes out for it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from daemon.rules.tick import run_tick
from daemon.store.models import Collaboration, OutboxMessage, OutboxStatus
from tests.conftest import REPO

FILLED = REPO / "tests" / "minutes_files" / "filled.md"
MEETING = (
    "meeting", "schedule", "--collab", "v2-launch", "--title", "V2.0 进度同步会",
    "--start", "2026-12-15T14:00", "--duration", "60", "--host", "张伟",
    "--recorder", "陈静", "--attendee", "市场部", "--attendee", "wang.qiang@example.com",
)  # fmt: skip


def _mails(app) -> int:
    with app.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


def _status(app) -> str:
    with app.db.transaction() as session:
        return session.scalar(select(Collaboration.status).where(Collaboration.code == "v2-launch"))


def test_archiving_with_open_work_lists_it_and_needs_force(app, demo_ledger, tmp_path):
    cli = demo_ledger
    cli.ok("items", "update", "v2-launch#1", "--status", "done", at="2026-11-27T10:00")
    out = tmp_path / "out"
    code, _, err = cli("archive", "v2-launch", "--out", str(out), at="2026-12-12T09:00")
    assert code == 65
    assert "v2-launch (产品V2.0版本研发协作) still has open work" in err
    assert "#2 评估需求文档V2.0并反馈: 未开始 (张伟) — not done" in err
    assert "#1 输出需求文档V2.0: waiting for acceptance by 张伟 (round 1)" in err
    assert "retrospective (复盘) never requested" in err
    assert "--force" in err and "nothing was archived" in err
    assert _status(app) == "active" and not out.exists()

    cli.ok("collab", "close", "v2-launch", at="2026-12-12T09:30")
    code, _, err = cli("archive", "v2-launch", "--out", str(out), at="2026-12-12T10:00")
    assert code == 65 and "retrospective (复盘) not answered by 张伟、陈静、李娜" in err

    cli.ok("archive", "v2-launch", "--out", str(out), "--force", at="2026-12-12T10:00")
    assert _status(app) == "archived"
    history = cli.ok("collab", "show", "v2-launch")
    assert "已归档" in history


def test_an_archived_collaboration_refuses_every_change(app, demo_ledger, tmp_path):
    cli = demo_ledger
    cli.ok(*MEETING, at="2026-11-23T09:00")
    cli.ok("archive", "v2-launch", "--out", str(tmp_path / "out"), "--force", at="2026-12-12T09:00")
    before = _mails(app)
    ledger = tmp_path / "台账.csv"
    ledger.write_text("任务名称,负责人\n写方案,李娜\n", "utf-8")
    for argv in (
        MEETING,
        ("meeting", "update", "1", "--location", "5楼"),
        ("meeting", "cancel", "1", "--reason", "改期"),
        ("minutes", "publish", "1", str(FILLED)),
        ("minutes", "request", "1"),
        ("items", "add", "--collab", "v2-launch", "--owner", "王强", "新任务"),
        ("items", "update", "v2-launch#2", "--status", "done"),
        ("items", "edit", "v2-launch#2", "--priority", "low"),
        ("items", "cancel", "v2-launch#2", "--reason", "不需要了"),
        ("collab", "close", "v2-launch"),
        # the collaboration's own changes and an import: one refusal, word for word
        ("collab", "edit", "v2-launch", "--goal", "新目标"),
        ("collab", "add-department", "v2-launch", "总经办", "--contact", "刘洋"),
        ("collab", "edit-department", "v2-launch", "市场部", "--duties", "宣传"),
        ("collab", "remove-department", "v2-launch", "客服部"),
        ("collab", "cancel", "v2-launch", "--reason", "不做了"),
        ("items", "import", "v2-launch", str(ledger)),
        ("items", "import", "v2-launch", str(ledger), "--dry-run"),
    ):
        code, _, err = cli(*argv, at="2026-12-13T09:00")
        assert code == 65, (argv, err)
        assert "v2-launch (产品V2.0版本研发协作) is archived" in err, (argv, err)
        assert "read-only" in err and "nothing was done" in err
    assert _mails(app) == before


def test_nothing_goes_out_for_an_archived_collaboration(app, demo_ledger, tmp_path):
    cli = demo_ledger
    cli.ok(*MEETING, at="2026-11-23T09:00")
    cli.ok("items", "update", "v2-launch#1", "--status", "done", at="2026-11-27T10:00")
    # a reminder held back by quiet hours is still queued when the coordinator archives
    late_evening = datetime(2026, 12, 11, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    report = run_tick(app, late_evening)
    assert report.errors == []
    with app.db.transaction() as session:
        waiting = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.rule_id.is_not(None)
            )
        ).all()
    assert waiting  # overdue items and the unanswered acceptance request were chased

    cli.ok("archive", "v2-launch", "--out", str(tmp_path / "out"), "--force", at="2026-12-11T22:30")
    with app.db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(waiting))).all()
        assert {(r.status, r.last_error) for r in rows} == {
            (OutboxStatus.CANCELLED, "withdrawn: the collaboration was archived")
        }
    before = _mails(app)
    for local in ("12-14T09:00", "12-15T08:00", "12-15T13:30", "12-16T10:00", "12-18T18:00",
                  "12-22T10:00"):  # fmt: skip
        at = datetime.fromisoformat(f"2026-{local}+08:00")
        report = run_tick(app, at)
        assert report.errors == [] and report.queued == [], (local, report.queued)
    assert _mails(app) == before
