"""The coordinator's commands by mail, through the real stack (Postfix + Dovecot, IMAP):
转交, 截止, 取消, 依赖, 新增, each answered in the thread; others are refused and told who may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from daemon.mail.send import send_due
from daemon.store.models import ActionItem, HistoryEntry, ItemStatus, OutboxMessage
from tests.test_ingest import _imap_world


@pytest.fixture
def world(request, tmp_path, db_url):
    yield from _imap_world(request, tmp_path, db_url)


def items(world) -> dict[int, ActionItem]:
    with world.app.db.transaction() as session:
        found = session.scalars(select(ActionItem)).all()
        for item in found:  # loaded for use outside the session
            _ = item.owner.name, [d.number for d in item.depends_on]
        return {item.number: item for item in found}


def queued(world, kind: str) -> list[OutboxMessage]:
    with world.app.db.transaction() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


def send(world) -> None:
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)


def test_the_coordinator_changes_items_by_mail_and_gets_one_answer(world):
    kickoff = world.received("chen.jing", "协作启动通知")
    reply = world.reply(
        kickoff,
        "#3 转交 王强，原因：赵敏休假\n"
        "#1 截止 12月11日，原因：评审会推迟\n"
        "#4 取消：合并到 #1\n"
        "#1 依赖 #2\n"
        "#3 依赖 #2\n"
        "新增：任务 整理客户沟通话术 负责人 王强 截止 12月3日 优先级 高\n"
        "#2 进行中 50%",
        world.address("chen.jing"),
    )
    world.deliver(reply)
    report = world.ingest()
    assert (report.applied, report.failed) == (1, 0)

    now = items(world)
    assert now[3].owner.name == "王强"
    assert str(now[1].deadline) == "2026-12-11"
    assert now[4].status is ItemStatus.CANCELLED
    assert [d.number for d in now[1].depends_on] == []  # the cycle was refused
    assert [d.number for d in now[3].depends_on] == [2]
    assert now[5].description == "整理客户沟通话术" and now[5].owner.name == "王强"
    assert (now[2].status, now[2].progress) == (ItemStatus.IN_PROGRESS, 50)

    with world.app.db.transaction() as session:
        rows = session.scalars(
            select(HistoryEntry).where(HistoryEntry.source == reply["Message-ID"])
        ).all()
        recorded = {(r.field, r.note) for r in rows}
        assert all(r.actor == world.address("chen.jing") for r in rows)
    assert ("owner", "赵敏休假") in recorded
    assert ("deadline", "评审会推迟") in recorded

    send(world)
    answer = world.received("chen.jing", in_reply_to=reply["Message-ID"])
    body = answer.get_body(("plain",)).get_content()
    assert "#3 已转交给 王强 ✓" in body
    assert "#1 截止日期已改为 2026年12月11日" in body
    assert "#4 已取消 ✓（原因：合并到 #1" in body
    assert "#1：依赖会形成循环（#1 → #2 → #1），未做更改" in body
    assert "#3 依赖 #2 ✓" in body
    assert "已新增行动项 #5，负责人 王强 ✓" in body
    assert "#2 → 进行中 50% ✓" in body

    handed = world.received("wang.qiang", "#3 转交")
    text = handed.get_body(("plain",)).get_content()
    assert "从现在起由您负责" in text and "#3 进行中 30%" in text
    assert (
        "您不再负责此项" in world.received("zhao.min", "#3 转交").get_body(("plain",)).get_content()
    )
    assert (
        "合并到 #1"
        in world.received("emily.chen", "#4 cancelled").get_body(("plain",)).get_content()
    )
    assert world.received("wang.qiang", "#5")  # the new item's assignment
    # she made the changes herself: no notice of her own change comes to her
    assert not [m for m in queued(world, "item_reassigned") if "chen.jing" in m.recipients]


def test_an_owner_may_not_move_deadlines_or_owners_and_is_told_who_may(world):
    assignment = world.received("li.na", "您负责的行动项")
    reply = world.reply(
        assignment, "#1 截止 12月30日\n#1 转交 王强\n#1 取消：不做了", world.address("li.na")
    )
    world.deliver(reply)
    report = world.ingest()
    assert report.applied == 0
    now = items(world)
    assert (now[1].owner.name, str(now[1].deadline), now[1].status) == (
        "李娜",
        "2026-12-04",
        ItemStatus.NOT_STARTED,
    )
    send(world)
    body = (
        world.received("li.na", in_reply_to=reply["Message-ID"]).get_body(("plain",)).get_content()
    )
    assert body.count("此类修改只能由 陈静、张伟 发出") == 3


def test_unreadable_edits_are_answered_line_by_line(world):
    kickoff = world.received("zhang.wei", "协作启动通知")  # the initiator
    reply = world.reply(
        kickoff,
        "#1 截止 下周\n#2 转交 无名氏\n#3 取消\n新增：负责人 王强\n#9 依赖 #1",
        world.address("zhang.wei"),
    )
    world.deliver(reply)
    assert world.ingest().applied == 0
    send(world)
    body = (
        world.received("zhang.wei", in_reply_to=reply["Message-ID"])
        .get_body(("plain",))
        .get_content()
    )
    assert "#1：“下周”不是日期" in body
    assert "#2：找不到“无名氏”" in body
    assert "#3：请写明取消原因" in body
    assert "新增行动项未保存：缺少任务" in body
    assert "#9：本协作没有这个行动项" in body


def test_a_collaborator_is_asked_to_help_and_may_answer_what_the_mail_suggests(world):
    asked = world.received("wang.qiang", "请您协作")
    text = asked.get_body(("plain",)).get_content()
    assert "#3 协调客户沟通" in text and "负责人：赵敏" in text
    assert "#3 进行中 80%" in asked.get_body(("html",)).get_content()
    reply = world.reply(asked, "#3 进行中 50%\n#3 需支持: 客户名单", world.address("wang.qiang"))
    world.deliver(reply)
    assert world.ingest().applied == 1
    now = items(world)
    assert (now[3].status, now[3].progress) == (ItemStatus.NEEDS_SUPPORT, 50)
    assert now[3].owner.name == "赵敏"  # helping does not make him the owner


def test_a_deadline_set_by_mail_on_a_day_off_is_warned_like_the_cli_and_its_offer_works(world):
    """F4: 截止 and 新增 by mail to a weekend day are said, with the line that sets the next
    working day; that line sent back sets it, with no warning."""
    kickoff = world.received("chen.jing", "协作启动通知")
    reply = world.reply(
        kickoff,
        "#1 截止 12月12日\n新增：任务 整理客户沟通话术 负责人 王强 截止 12月13日",
        world.address("chen.jing"),
    )
    world.deliver(reply)
    world.ingest()
    send(world)
    answer = world.received("chen.jing", in_reply_to=reply["Message-ID"])
    text = answer.get_body(("plain",)).get_content()
    assert "#1：请注意" in text and "#5：请注意" in text and "不是工作日" in text
    assert "请回复：#1 截止 2026-12-14" in text and "请回复：#5 截止 2026-12-14" in text
    back = world.reply(answer, "#1 截止 2026-12-14", world.address("chen.jing"))
    world.deliver(back)
    world.ingest()
    send(world)
    assert str(items(world)[1].deadline) == "2026-12-14"
    again = world.received("chen.jing", in_reply_to=back["Message-ID"])
    assert "请注意" not in again.get_body(("plain",)).get_content()


def test_an_item_made_to_depend_on_itself_by_mail_is_said_so(world):
    """F27: `#3 依赖 #3` was answered "本协作没有这个行动项", though #3 exists."""
    kickoff = world.received("chen.jing", "协作启动通知")
    reply = world.reply(kickoff, "#3 依赖 #3", world.address("chen.jing"))
    world.deliver(reply)
    world.ingest()
    send(world)
    text = world.received("chen.jing", in_reply_to=reply["Message-ID"]).get_body(("plain",))
    said = text.get_content()
    assert "#3：不能依赖它自己，未做更改" in said and "没有这个行动项" not in said
    assert items(world)[3].depends_on == []
