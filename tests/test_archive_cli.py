"""The closing commands through the CLI, on SQLite and PostgreSQL with the maildir transport:
`items update --status done` asks for acceptance, `collab close` asks for the retrospective
with the late items' causes, `archive` writes the folder (meetings and the minutes as sent
included) and makes the collaboration read-only, `export` writes the live ledger."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import openpyxl
from sqlalchemy import select

from daemon.ledger.collaborations import find_collaboration
from daemon.mail.outbox import enqueue
from daemon.store.models import (
    Attendee,
    Meeting,
    Minutes,
    MinutesStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    SourceKind,
)


def add_meeting_with_sent_minutes(app) -> None:
    """A kick-off meeting and its minutes as the meetings feature records them."""
    with app.db.transaction() as session:
        collab = find_collaboration(session, "v2-launch")
        host = session.scalar(select(Person).where(Person.email == "zhang.wei@example.com"))
        at = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
        meeting = Meeting(
            collaboration_id=collab.id,
            title="V2.0 启动会",
            starts_at=at,
            duration_minutes=60,
            timezone="Asia/Shanghai",
            location="3楼会议室",
            online_url="",
            host_id=host.id,
            recorder_id=host.id,
            organizer_email="collabd@example.com",
            uid="kickoff-test@collabd",
            sequence=0,
            created_at=at,
            updated_at=at,
        )
        meeting.attendees.append(Attendee(person_id=host.id, email=host.email))
        session.add(meeting)
        session.flush()
        minutes = Minutes(
            meeting_id=meeting.id,
            version=1,
            status=MinutesStatus.PUBLISHED,
            discussion="研发进度同步",
            decisions="12月4日前提交需求文档",
            next_steps="每周五同步",
            source_kind=SourceKind.CLI,
            source="test",
            created_at=at,
            published_at=at,
        )
        session.add(minutes)
        session.flush()
        enqueue(  # the minutes mail as it went out (its body is what record.html shows)
            session,
            renderer=app.renderer,
            identity=app.identity,
            now=at,
            kind="collab_kickoff",
            dedupe_key="minutes-test",
            to=host,
            context={"collab": collab},
            collaboration_id=collab.id,
            minutes_id=minutes.id,
        )
        session.flush()
        sent = select(OutboxMessage).where(OutboxMessage.dedupe_key == "minutes-test")
        row = session.scalar(sent)
        row.status, row.sent_at = OutboxStatus.SENT, at


def test_close_archive_and_export_from_the_command_line(app, demo_ledger, tmp_path):
    cli = demo_ledger
    out = cli.ok("items", "update", "v2-launch#1", "--status", "done", at="2026-11-27T10:00")
    assert "状态：未开始 → 已完成" in out
    shown = json.loads(cli.ok("items", "show", "v2-launch#1", "--json"))
    (trail,) = shown["acceptance"]
    assert (trail["round"], trail["verdict"], trail["receiver"]) == (
        1,
        "pending",
        "zhang.wei@example.com",
    )
    assert "acceptance" in cli.ok("items", "show", "v2-launch#1")
    cli.ok(
        "items",
        "update",
        "v2-launch#3",
        "--status",
        "blocked",
        "--note",
        "等待销售部话术",
        at="2026-11-30T10:00",
    )

    closed = json.loads(cli.ok("collab", "close", "v2-launch", "--json", at="2026-12-11T09:00"))
    causes = {late["number"]: late["cause"] for late in closed["late_items"]}
    assert causes == {2: "未记录原因", 3: "11-30 阻塞：等待销售部话术"}
    again = cli.ok("collab", "close", "v2-launch", at="2026-12-11T10:00")
    assert "requested already" in again
    with app.db.transaction() as session:
        asked = session.scalars(
            select(OutboxMessage.recipients).where(OutboxMessage.kind == "retrospective_request")
        ).all()
    assert len(asked) == 6  # once each, even after a second close

    add_meeting_with_sent_minutes(app)
    foreign = tmp_path / "out" / "2026-11-产品V2.0版本研发协作"
    foreign.mkdir(parents=True)
    code, _, err = cli("archive", "v2-launch", "--out", str(tmp_path / "out"), "--force")
    assert code == 65 and "was not written by collabd" in err
    foreign.rmdir()
    out = cli.ok(
        "archive", "v2-launch", "--out", str(tmp_path / "out"), "--force", at="2026-12-12T09:00"
    )
    assert "archived v2-launch →" in out and "record.xlsx" in out
    book = openpyxl.load_workbook(foreign / "record.xlsx")
    assert book.sheetnames == [
        "协作概况",
        "会议纪要",
        "行动项",
        "跟进记录",
        "资源需求",
        "成果验收",
        "复盘总结",
        "延期分析",
    ]
    overview = dict(book["协作概况"].iter_rows(min_row=2, values_only=True))
    assert overview["状态"] == "已归档" and overview["发起人"].startswith("张伟")
    assert "2026-12-12 09:00 归档" in overview["归档说明"]
    meeting = next(book["会议纪要"].iter_rows(min_row=2, values_only=True))
    assert meeting[:2] == ("V2.0 启动会", datetime(2026, 11, 24, 14, 0))
    support = [r[3] for r in book["资源需求"].iter_rows(min_row=2, values_only=True)]
    assert support == ["销售部提供客户沟通话术"]
    late = list(book["延期分析"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[5]) for r in late] == [("#2", 3), ("#3", 1)]
    html = (foreign / "record.html").read_text("utf-8")
    assert "会议纪要（发送原文）" in html and "协作启动通知" in html

    # read-only now
    code, _, err = cli("items", "update", "v2-launch#2", "--status", "done")
    assert code == 65 and "archived" in err
    assert "已归档" in cli.ok("collab", "show", "v2-launch")

    ledger_csv = cli.ok("export", "--format", "csv")
    rows = list(csv.reader(io.StringIO(ledger_csv)))
    assert rows[0][:4] == ["协作", "编号", "任务", "负责人"]
    assert [r[1] for r in rows[1:]] == ["#1", "#2", "#3", "#4"]
    assert rows[3][8] == "阻塞"
    target = tmp_path / "ledger.xlsx"
    cli.ok("export", "--collab", "v2-launch", "--format", "xlsx", "--out", str(target))
    sheet = openpyxl.load_workbook(target)["跟进台账"]
    assert sheet["C2"].value == "输出需求文档V2.0"
    assert sheet["I2"].value == "已完成" and sheet["I2"].fill.fgColor.rgb.endswith("C6EFCE")
    assert sheet["I4"].fill.fgColor.rgb.endswith("FFC7CE")  # 阻塞 is red
    code, _, err = cli("export", "--format", "xlsx")
    assert code == 64 and "--out" in err


def test_unanswered_acceptance_request_is_reminded_once_after_a_working_day(app, demo_ledger):
    from daemon.rules.tick import run_tick

    demo_ledger.ok("items", "update", "v2-launch#1", "--status", "done", at="2026-11-27T10:00")
    friday_evening = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai

    def acceptance_lines(report) -> list[str]:  # the tick also runs the other rules
        return [line for line in report.queued if line.startswith("acceptance.review_within")]

    assert acceptance_lines(run_tick(app, friday_evening)) == []
    monday = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 11:00, one working day later
    report = run_tick(app, monday)
    assert report.errors == []
    (line,) = acceptance_lines(report)
    assert "v2-launch#1 round 1 → zhang.wei@example.com" in line
    # once per round, however often the tick runs
    assert acceptance_lines(run_tick(app, monday)) == []
    with app.db.transaction() as session:
        reminder = session.scalar(
            select(OutboxMessage).where(OutboxMessage.rule_id == "acceptance.review_within")
        )
        assert (reminder.kind, reminder.rule_level) == ("acceptance_request", 1)
        assert reminder.subject == "[协作 v2-launch] 提醒：请验收 #1 输出需求文档V2.0"
