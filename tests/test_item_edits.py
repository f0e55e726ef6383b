"""Changing items after the start from the command line: 转交, edits with a reason,
取消, dependencies (with cycles refused), and who did it (`--as`, `[cli] operator`)."""

from __future__ import annotations

import json

from sqlalchemy import select

from daemon.store.models import HistoryEntry, OutboxMessage, OutboxStatus
from tests.test_next_meeting import text_of


def mails(app, kind: str) -> list[OutboxMessage]:
    with app.db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def _text(mail: OutboxMessage) -> str:
    from email import message_from_bytes, policy

    return message_from_bytes(mail.raw, policy=policy.default).get_body(("plain",)).get_content()


def history(app, field: str | None = None, action: str | None = None) -> list[HistoryEntry]:
    with app.db.transaction() as session:
        query = select(HistoryEntry).where(HistoryEntry.entity == "item")
        if field:
            query = query.where(HistoryEntry.field == field)
        if action:
            query = query.where(HistoryEntry.action == action)
        return list(session.scalars(query.order_by(HistoryEntry.id)))


def test_reassignment_tells_old_and_new_owner_and_coordinator_and_keeps_history(app, demo_ledger):
    cli = demo_ledger
    out = cli.ok(
        "--as", "陈静", "items", "edit", "v2-launch#3", "--owner", "王强", "--reason", "赵敏休假"
    )
    assert "负责人：赵敏 <zhao.min@example.com> → 王强 <wang.qiang@example.com>" in out
    shown = json.loads(cli.ok("items", "show", "v2-launch#3", "--json"))
    assert shown["owner_name"] == "王强"
    assert shown["department"] == "销售部"
    (row,) = history(app, field="owner")
    assert (row.old_value, row.new_value) == (
        "赵敏 <zhao.min@example.com>",
        "王强 <wang.qiang@example.com>",
    )
    assert (row.actor, row.note) == ("chen.jing@example.com", "赵敏休假")
    assert "--as '陈静' items edit" in row.source
    told = {m.recipients: m for m in mails(app, "item_reassigned")}
    # the coordinator made the change herself: only the two owners hear of it
    assert set(told) == {"zhao.min@example.com", "wang.qiang@example.com"}
    new = told["wang.qiang@example.com"].raw.decode()
    assert "#3" in told["wang.qiang@example.com"].subject

    # someone else hands it back: now the coordinator hears of it too
    cli.ok("--as", "张伟", "items", "edit", "v2-launch#3", "--owner", "zhao.min@example.com")
    assert {m.recipients for m in mails(app, "item_reassigned")} >= {"chen.jing@example.com"}
    assert new  # the first mail stays as it was sent


def test_pending_reminders_of_the_old_owner_are_withdrawn(app, demo_ledger):
    from daemon.store.models import ActionItem

    with app.db.transaction() as session:
        item = session.scalar(select(ActionItem).where(ActionItem.number == 3))
        session.add(
            OutboxMessage(
                dedupe_key="test-reminder",
                message_id="<r@x>",
                kind="reminder",
                sender="collabd@example.com",
                recipients="zhao.min@example.com",
                subject="提醒",
                raw=b"x",
                collaboration_id=item.collaboration_id,
                item_id=item.id,
                status=OutboxStatus.PENDING,
                not_before=item.created_at,
                created_at=item.created_at,
                attempts=0,
                last_error="",
            )
        )
    demo_ledger.ok("items", "edit", "v2-launch#3", "--owner", "王强")
    (reminder,) = mails(app, "reminder")
    assert reminder.status is OutboxStatus.CANCELLED


def test_edit_fields_are_each_recorded_and_the_owner_is_told(app, demo_ledger):
    cli = demo_ledger
    out = cli.ok(
        "--as",
        "chen.jing@example.com",
        "items",
        "edit",
        "v2-launch#1",
        "--task",
        "输出需求文档V2.1",
        "--criteria",
        "研发评审通过",
        "--priority",
        "low",
        "--deadline",
        "2026-12-11",
        "--reason",
        "评审会推迟",
        "--support",
        "设计稿",
        "--receiver",
        "张伟",
        "--collaborator",
        "Emily Chen",
    )
    for field in ("任务", "完成标准", "优先级", "截止日期", "所需支持", "验收人", "协作人"):
        assert f"v2-launch#1 {field}：" in out  # in the words `items show` uses
    deadline = history(app, field="deadline")[-1]
    assert (deadline.old_value, deadline.new_value, deadline.note) == (
        "2026-12-04",
        "2026-12-11",
        "评审会推迟",
    )
    (edited,) = mails(app, "item_edited")
    assert edited.recipients == "li.na@example.com"  # the owner (市场部's contact)
    from email import message_from_bytes, policy

    body = message_from_bytes(edited.raw, policy=policy.default).get_body(("plain",)).get_content()
    assert "截止日期：2026年12月4日（周五） → 2026年12月11日（周五）" in body
    assert "优先级：高 → 低" in body
    assert "原因：评审会推迟" in body


def test_a_new_deadline_needs_a_reason_and_an_empty_edit_is_refused(demo_ledger):
    code, _, err = demo_ledger("items", "edit", "v2-launch#1", "--deadline", "2026-12-11")
    assert code == 64 and "--reason" in err
    code, _, err = demo_ledger("items", "edit", "v2-launch#1")
    assert code == 64 and "nothing to change" in err


def test_cancel_stops_chasing_and_keeps_the_item(app, demo_ledger):
    cli = demo_ledger
    code, _, err = cli("items", "cancel", "v2-launch#4", "--reason", " ")
    assert code == 65 and "--reason" in err
    out = cli.ok("items", "cancel", "v2-launch#4", "--reason", "合并到 #1")
    assert "cancelled" in out
    shown = json.loads(cli.ok("items", "show", "v2-launch#4", "--json"))
    assert shown["status"] == "cancelled"
    listed = cli.ok("items", "list", "--collab", "v2-launch")
    assert "已取消" in listed and "cancelled" not in listed
    assert "v2-launch#4" not in cli.ok("items", "list", "--overdue", at="2027-01-10T09:00")
    told = {m.recipients for m in mails(app, "item_cancelled")}
    assert told == {"emily.chen@example.com", "chen.jing@example.com"}
    en = next(m for m in mails(app, "item_cancelled") if m.recipients.startswith("emily"))
    assert "cancelled" in en.subject
    # a cancelled item no longer changes
    code, _, err = cli("items", "update", "v2-launch#4", "--status", "done")
    assert code == 65 and "cancelled" in err
    assert "already cancelled" in cli.ok("items", "cancel", "v2-launch#4", "--reason", "x")
    (row,) = history(app, action="cancelled")
    assert row.note == "合并到 #1"


def test_dependencies_are_set_replaced_and_a_cycle_is_refused(demo_ledger):
    cli = demo_ledger
    out = cli.ok("items", "edit", "v2-launch#4", "--depends-on", "2", "--depends-on", "3")
    assert "v2-launch#4 依赖：— → #2, #3" in out
    # #2 waits for #1 already (the collaboration file): #1 waiting for #4 closes a circle
    code, _, err = cli("items", "edit", "v2-launch#1", "--depends-on", "4")
    assert code == 65
    assert "cycle (#1 → #4 → #2 → #1)" in err
    code, _, err = cli("items", "edit", "v2-launch#1", "--depends-on", "1")
    assert code == 65 and "not another item" in err
    cli.ok("items", "edit", "v2-launch#4", "--depends-on", "0")
    assert json.loads(cli.ok("items", "show", "v2-launch#4", "--json"))["depends_on"] == []


def test_cli_changes_name_a_person_or_are_refused(app, demo_ledger, config_file):
    cli = demo_ledger
    code, _, err = cli("--as", "无名氏", "items", "update", "v2-launch#1", "--progress", "10")
    assert code == 64 and "无名氏" in err and "nothing was changed" in err
    assert json.loads(cli.ok("items", "show", "v2-launch#1", "--json"))["progress"] == 0

    config_file.write_text(config_file.read_text("utf-8") + '\n[cli]\noperator = "陈静"\n', "utf-8")
    cli.ok("items", "update", "v2-launch#1", "--progress", "20")
    assert history(app, field="progress")[-1].actor == "chen.jing@example.com"
    cli.ok("--as", "张伟", "items", "update", "v2-launch#1", "--progress", "30")
    assert history(app, field="progress")[-1].actor == "zhang.wei@example.com"

    config_file.write_text(config_file.read_text("utf-8").replace('"陈静"', '"Nobody"'), "utf-8")
    code, _, err = cli("items", "update", "v2-launch#1", "--progress", "40")
    assert code == 78
    assert str(config_file) in err and "[cli] operator = 'Nobody'" in err
    # check-config refuses it the same way (it said "config ok" while every command refused)
    code, out, err = cli("check-config", at=None)
    assert code == 78 and "config ok" not in out
    assert f"{config_file}: [cli] operator = 'Nobody'" in err


def test_dependencies_act_ready_once_and_at_risk_once(app, demo_ledger):
    """#2 (张伟) waits for #1 (李娜) in the demo's collaboration file."""
    cli = demo_ledger
    # #1's deadline moved past #2's: #2 is at risk, its owner and the coordinator hear once
    cli.ok("items", "edit", "v2-launch#1", "--deadline", "2026-12-09", "--reason", "评审推迟")
    cli.ok("tick", "--no-send", at="2026-11-24T10:00")
    cli.ok("tick", "--no-send", at="2026-11-25T10:00")
    risk = mails(app, "dependency_risk")
    assert sorted(m.recipients for m in risk) == ["chen.jing@example.com", "zhang.wei@example.com"]
    assert "#2 有风险：前置项 #1 截止晚于本项" in risk[0].subject
    # the date it suggests is the first working day after #1's deadline (Wed 9 December),
    # not a fixed 12月20日 (F31): sent back, it is a real delay to a working day
    said = {m.recipients: _text(m) for m in risk}
    assert "#2 截止 12月10日，原因：等待 #1" in said["chen.jing@example.com"]
    assert "#2 延期至12月10日，原因：等待 #1" in said["zhang.wei@example.com"]
    # #1 done: 张伟 may start #2, told once however often the rules look
    cli.ok("items", "update", "v2-launch#1", "--status", "done", at="2026-11-26T10:00")
    cli.ok("tick", "--no-send", at="2026-11-26T10:05")
    cli.ok("tick", "--no-send", at="2026-11-27T10:05")
    (ready,) = mails(app, "dependency_ready")
    assert ready.recipients == "zhang.wei@example.com"
    assert "#2 可以开始了" in ready.subject
    assert len(mails(app, "dependency_risk")) == 2  # done is no longer a risk


def test_a_late_dependency_makes_the_waiting_item_amber_in_the_digest(app, demo_ledger):
    from datetime import date

    from daemon.rules.digest import ranked
    from daemon.rules.workdays import WorkCalendar
    from daemon.store.models import ActionItem

    with app.db.transaction() as session:
        items = list(session.scalars(select(ActionItem).order_by(ActionItem.number)))
        calendar = WorkCalendar(app.settings.tz)
        rows = {r["item"].number: r["rag"] for r in ranked(items, date(2026, 12, 5), calendar)}
    assert rows[1] == "red"  # #1 is overdue on 12-05
    assert rows[2] == "amber"  # #2 is not due yet, but waits for a late #1


def test_update_to_cancelled_goes_the_way_of_items_cancel(app, demo_ledger):
    cli = demo_ledger
    code, _, err = cli("items", "update", "v2-launch#4", "--status", "cancelled")
    assert code == 64 and 'collabd items cancel v2-launch#4 --reason "…"' in err
    code, _, err = cli(
        "items", "update", "v2-launch#4", "--status", "cancelled", "--progress", "10", "--note", "x"
    )
    assert code == 64 and "items cancel" in err
    assert json.loads(cli.ok("items", "show", "v2-launch#4", "--json"))["status"] == "not_started"

    out = cli.ok("items", "update", "v2-launch#4", "--status", "cancelled", "--note", "合并到 #1")
    assert "cancelled: 合并到 #1; owner and coordinator told" in out
    assert {m.recipients for m in mails(app, "item_cancelled")} == {
        "emily.chen@example.com",
        "chen.jing@example.com",
    }
    (row,) = history(app, action="cancelled")
    assert row.note == "合并到 #1"


def test_collaborators_hear_of_assignment_handover_changes_and_cancellation(app, demo_ledger):
    cli = demo_ledger
    # at the start: 王强 helps 赵敏 with #3, and hears so with who leads it
    (asked,) = [m for m in mails(app, "items_assisting") if "#3" in m.subject]
    assert asked.recipients == "wang.qiang@example.com" and "请您协作" in asked.subject
    text, html = text_of(asked)
    assert "负责人：赵敏" in text and "  #3 进行中 80%" in text and "#3 进行中 80%" in html

    cli.ok("--as", "陈静", "items", "add", "--collab", "v2-launch", "--owner", "李娜",
           "--collaborator", "Emily Chen", "--collaborator", "王强", "海报定稿")  # fmt: skip
    added = [m for m in mails(app, "items_assisting") if "#5" in m.subject]
    assert {m.recipients for m in added} == {"emily.chen@example.com", "wang.qiang@example.com"}
    english = next(m for m in added if m.recipients.startswith("emily"))
    assert "Please help with: #5" in english.subject and "Owner: 李娜" in text_of(english)[0]

    # 转交: the collaborator is told whom to work with now
    cli.ok("--as", "陈静", "items", "edit", "v2-launch#3", "--owner", "李娜", "--reason", "休假")
    (handover,) = [
        m for m in mails(app, "item_reassigned") if m.recipients == "wang.qiang@example.com"
    ]
    assert "请改与新负责人 李娜 配合" in text_of(handover)[0]

    # the list changes: the one added is asked, the one taken off is told
    cli.ok("--as", "陈静", "items", "edit", "v2-launch#5", "--collaborator", "赵敏")
    latest = {m.recipients: m for m in mails(app, "items_assisting") if "#5" in m.subject}
    assert "请您协作" in latest["zhao.min@example.com"].subject
    assert "No longer needed" in latest["emily.chen@example.com"].subject
    assert "您不再是协作人" in latest["wang.qiang@example.com"].subject

    cli.ok("--as", "陈静", "items", "cancel", "v2-launch#5", "--reason", "合并")
    told = {m.recipients for m in mails(app, "item_cancelled")}
    assert told == {"li.na@example.com", "zhao.min@example.com"}


def test_a_cancelled_dependency_is_not_called_done_and_a_started_item_is_not_told_to_start(
    app, demo_ledger
):
    """F22: `#2 可以开始了：前置项 #1、#3 已完成` when #3 had been cancelled."""
    cli = demo_ledger
    cli.ok("items", "edit", "v2-launch#2", "--depends-on", "1", "--depends-on", "3")
    cli.ok("items", "cancel", "v2-launch#3", "--reason", "需求取消")
    cli.ok("items", "update", "v2-launch#2", "--status", "in_progress", "--progress", "30")
    cli.ok("items", "update", "v2-launch#1", "--status", "done", at="2026-11-26T10:00")
    cli.ok("tick", "--no-send", at="2026-11-26T10:05")
    (ready,) = mails(app, "dependency_ready")
    assert "前置项 #1 已完成（#3 已取消）" in ready.subject
    assert "可以开始了" not in ready.subject  # 张伟 is at 30% already
    text = _text(ready)
    assert "已取消，不会交付成果" in text and "不必再等" in text


def test_simulate_says_a_mail_already_sent_once_not_every_hour(app, demo_ledger):
    """F23: six `duplicate … 不重复发送` lines per simulated hour hid the mail that goes."""
    cli = demo_ledger
    cli.ok("items", "edit", "v2-launch#1", "--deadline", "2026-12-09", "--reason", "评审推迟")
    cli.ok("tick", "--no-send", at="2026-11-24T10:00")  # the dependency risk goes out once
    out = cli.ok(
        "rules", "simulate", "--from", "2026-11-24T11:00", "--to", "2026-11-26T18:00",
        at="2026-11-24T11:00",
    )  # fmt: skip
    repeats = [
        line for line in out.splitlines() if "不重复发送" in line or "not sent again" in line
    ]
    assert repeats and len(repeats) == len(set(line.split(None, 2)[-1] for line in repeats))
