"""Changing a collaboration after the start from the command line: goal, dates, coordinator,
departments joining and leaving, a new contact or role; deleting a mistaken one that has
sent nothing, calling off (取消) one that has. Each change reaches the people it affects."""

from __future__ import annotations

import email
import json
from email import policy

from sqlalchemy import select

from daemon.store.models import HistoryEntry, OutboxMessage, OutboxStatus


def mails(app, kind: str) -> dict[str, OutboxMessage]:
    with app.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return {m.recipients: m for m in rows}


def parts(message: OutboxMessage) -> tuple[str, str]:
    """The text and the HTML part, as a mail reader shows them."""
    mail = email.message_from_bytes(message.raw, policy=policy.default)
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


def changes(app, action: str) -> list[HistoryEntry]:
    with app.db.transaction() as session:
        return list(
            session.scalars(
                select(HistoryEntry)
                .where(HistoryEntry.entity == "collaboration", HistoryEntry.action == action)
                .order_by(HistoryEntry.id)
            )
        )


def test_edit_goal_dates_and_coordinator_tells_everyone_involved(app, demo_ledger):
    cli = demo_ledger
    out = cli.ok(
        "--as",
        "张伟",
        "collab",
        "edit",
        "v2-launch",
        "--goal",
        "V2.0 按时上线",
        "--end",
        "2027-02-26",
        "--coordinator",
        "李娜",
    )
    assert "v2-launch 结束日期：2027-01-29 → 2027-02-26" in out
    assert "协调人：陈静 <chen.jing@example.com> → 李娜 <li.na@example.com>" in out
    shown = json.loads(cli.ok("collab", "show", "v2-launch", "--json"))
    assert (shown["goal"], shown["end"]) == ("V2.0 按时上线", "2027-02-26")
    assert shown["coordinator"].startswith("李娜") or "li.na" in shown["coordinator"]

    told = mails(app, "collab_changed")
    # everyone involved but 张伟, who made the change; the old coordinator too
    assert set(told) == {
        "chen.jing@example.com",
        "li.na@example.com",
        "wang.qiang@example.com",
        "zhao.min@example.com",
        "emily.chen@example.com",
    }
    text, html = parts(told["li.na@example.com"])
    assert "从现在起由您担任协调人" in text and "从现在起由您担任协调人" in html
    assert "2027年1月29日（周五） → 2027年2月26日（周五）" in text
    assert "您不再担任本协作的协调人" in parts(told["chen.jing@example.com"])[0]
    en, _ = parts(told["emily.chen@example.com"])
    assert "end date: Fri 29 Jan 2027 → Fri 26 Feb 2027" in en and "no reply needed" in en
    rows = changes(app, "changed")
    assert {r.field for r in rows} == {"goal", "end_date", "coordinator"}
    assert all(r.actor == "zhang.wei@example.com" for r in rows)


def test_an_end_before_the_start_is_refused(app, demo_ledger):
    code, _, err = demo_ledger("collab", "edit", "v2-launch", "--end", "2026-11-01")
    assert code == 65
    assert "the end 2026-11-01 would be before the start 2026-11-23" in err
    assert (
        json.loads(demo_ledger.ok("collab", "show", "v2-launch", "--json"))["end"] == "2027-01-29"
    )
    assert not mails(app, "collab_changed")
    code, _, err = demo_ledger("collab", "edit", "v2-launch")
    assert code == 64 and "nothing to change" in err


def test_departments_join_change_contact_and_role_and_leave(app, demo_ledger):
    cli = demo_ledger
    cli.ok(
        "--as",
        "陈静",
        "collab",
        "add-department",
        "v2-launch",
        "总经办",
        "--contact",
        "刘洋",
        "--role",
        "监督",
        "--duties",
        "把关上线节奏",
    )
    added = mails(app, "participant_changed")
    assert set(added) == {"liu.yang@example.com"}  # the coordinator made it herself
    text, html = parts(added["liu.yang@example.com"])
    assert "将总经办加入了跨部门协作" in text and "监督" in text and "把关上线节奏" in html
    code, _, err = cli("collab", "add-department", "v2-launch", "总经办", "--contact", "刘洋")
    assert code == 65 and "already" in err

    cli.ok(
        "--as",
        "张伟",
        "collab",
        "edit-department",
        "v2-launch",
        "市场部",
        "--contact",
        "Emily Chen",
    )
    told = mails(app, "participant_changed")
    new, _ = parts(told["emily.chen@example.com"])
    assert "made you 市场部's contact" in new and "(before: 李娜)" in new
    assert "您不再是对接人" in parts(told["li.na@example.com"])[0]
    assert "chen.jing@example.com" in told  # the coordinator hears what someone else changed
    participants = json.loads(cli.ok("collab", "show", "v2-launch", "--json"))["participants"]
    assert {p["department"]: p["contact"] for p in participants}[
        "市场部"
    ] == "emily.chen@example.com"

    cli.ok("collab", "edit-department", "v2-launch", "销售部", "--role", "主导")
    role, _ = parts(mails(app, "participant_changed")["wang.qiang@example.com"])
    assert "角色：配合 → 主导" in role

    # 客服部 owns #3: it cannot leave before #3 is handed over
    code, _, err = cli("collab", "remove-department", "v2-launch", "客服部")
    assert code == 65 and "v2-launch#3" in err and "hand them over first" in err
    cli.ok("items", "edit", "v2-launch#3", "--owner", "王强")
    cli.ok("collab", "remove-department", "v2-launch", "客服部")
    left, _ = parts(mails(app, "participant_changed")["zhao.min@example.com"])
    assert "将客服部移出了协作" in left
    departments = [
        p["department"]
        for p in json.loads(cli.ok("collab", "show", "v2-launch", "--json"))["participants"]
    ]
    assert "客服部" not in departments and "总经办" in departments
    code, _, err = cli("collab", "remove-department", "v2-launch", "研发中心")
    assert code == 65 and "started v2-launch" in err
    assert [r.action for r in changes(app, "participant_removed")] == ["participant_removed"]


def test_delete_only_before_anything_was_sent(app, demo_ledger):
    cli = demo_ledger
    cli.ok(
        "collab",
        "create",
        "--code",
        "oops",
        "--theme",
        "建错了",
        "--initiator",
        "张伟",
        "--participant",
        "市场部:李娜",
    )
    cli.ok("items", "add", "--collab", "oops", "--owner", "李娜", "写方案")
    out = cli.ok("--as", "张伟", "collab", "delete", "oops")
    assert "deleted oops" in out and "none had been sent" in out
    code, _, err = cli("collab", "show", "oops")
    assert code != 0 and "no collaboration 'oops'" in err
    with app.db.transaction() as session:
        assert not session.scalars(
            select(OutboxMessage).where(OutboxMessage.subject.contains("建错了"))
        ).all()
    (row,) = changes(app, "deleted")
    assert (row.old_value, row.actor) == ("oops 建错了", "zhang.wei@example.com")

    cli.ok("outbox", "send")  # v2-launch's kick-off has gone out: people know of it
    code, _, err = cli("collab", "delete", "v2-launch")
    assert code == 65 and "collab cancel v2-launch --reason" in err
    assert json.loads(cli.ok("collab", "show", "v2-launch", "--json"))["code"] == "v2-launch"


def test_cancel_keeps_it_read_only_archived_and_stops_chasing(app, demo_ledger, tmp_path):
    cli = demo_ledger
    code, _, err = cli("collab", "cancel", "v2-launch", "--reason", "项目取消")
    assert code == 65 and "collab delete v2-launch" in err  # nothing sent yet
    cli.ok("outbox", "send")
    cli.ok("items", "update", "v2-launch#1", "--status", "done")
    cli.ok(
        "meeting",
        "schedule",
        "--collab",
        "v2-launch",
        "--title",
        "周进度会",
        "--start",
        "2026-11-27T15:00",
        "--duration",
        "60",
    )
    out = cli.ok(
        "--as",
        "张伟",
        "collab",
        "cancel",
        "v2-launch",
        "--reason",
        "公司调整方向",
        "--out",
        str(tmp_path / "archive"),
    )
    assert "3 open item(s) cancelled, 1 meeting(s) cancelled" in out
    shown = json.loads(cli.ok("collab", "show", "v2-launch", "--json"))
    assert shown["status"] == "cancelled"
    statuses = {i["number"]: i["status"] for i in shown["items"]}
    assert statuses == {1: "done", 2: "cancelled", 3: "cancelled", 4: "cancelled"}
    told = mails(app, "collab_cancelled")
    assert "zhang.wei@example.com" not in told and "chen.jing@example.com" in told
    text, html = parts(told["chen.jing@example.com"])
    assert "公司调整方向" in text and "#2、#3、#4" in text and "周进度会" in html
    assert "called off" in parts(told["emily.chen@example.com"])[0]
    assert _cancelled_meeting(app)
    assert "meeting_cancel" in {m.kind for m in _pending(app)}  # out of every calendar
    # F30: its open items no longer sit in the overdue list (nobody can act on them)
    assert "v2-launch#" not in cli.ok("items", "list", "--overdue", at="2027-01-10T09:00")

    code, _, err = cli("items", "update", "v2-launch#2", "--progress", "10")
    assert code == 65 and "cancelled" in err
    code, _, err = cli("collab", "edit", "v2-launch", "--goal", "x")
    assert code == 65 and "is cancelled" in err
    folders = list((tmp_path / "archive").iterdir())
    assert len(folders) == 1 and (folders[0] / "record.xlsx").exists()
    assert "已取消" in (folders[0] / "record.html").read_text("utf-8")
    # no reminder is due for a cancelled collaboration, even long past its deadlines
    cli.ok("tick", at="2027-01-10T09:00")
    assert not [m for m in _pending(app) if m.kind in ("reminder", "escalation", "risk_check")]


def _pending(app) -> list[OutboxMessage]:
    with app.db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
            )
        )


def _cancelled_meeting(app) -> bool:
    from daemon.store.models import Meeting, MeetingStatus

    with app.db.transaction() as session:
        return session.scalar(select(Meeting)).status is MeetingStatus.CANCELLED


def test_archive_lists_meetings_to_come_and_force_cancels_them(app, demo_ledger, tmp_path):
    """F12: archiving over open work took the collaboration read-only but left its next
    meeting in every attendee's calendar; now the refusal lists it and --force cancels it
    as 取消 does (a CANCEL to its attendees)."""
    cli = demo_ledger
    cli.ok("outbox", "send")
    cli.ok(
        "meeting", "schedule", "--collab", "v2-launch", "--title", "周进度会",
        "--start", "2026-11-27T15:00", "--duration", "60",
    )  # fmt: skip
    cli.ok("outbox", "send")
    out_dir = str(tmp_path / "archive")
    code, _, err = cli("archive", "v2-launch", "--out", out_dir)
    assert code == 65 and "周进度会: still to come" in err and "--force cancels it" in err
    assert not _cancelled_meeting(app)
    out = cli.ok("archive", "v2-launch", "--out", out_dir, "--force")
    assert "cancelled meeting" in out and "周进度会" in out
    assert _cancelled_meeting(app)
    assert "meeting_cancel" in {m.kind for m in _pending(app)}  # out of every calendar
    # F30: its open items no longer sit in the overdue list (nobody can act on them)
    assert "v2-launch#" not in cli.ok("items", "list", "--overdue", at="2027-01-10T09:00")
