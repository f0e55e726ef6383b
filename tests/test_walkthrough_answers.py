"""What a coordinator's walkthrough found people reading in collabd's answers (issue 16),
through the real mail stack (Postfix + Dovecot, IMAP) on SQLite and PostgreSQL: a "delay"
to a day before the deadline, "on track" after the deadline, the initiator's own delay, a
risk check before a weekend deadline, and answers whose result lines ran together."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from daemon.ledger.history import Origin
from daemon.ledger.items import ItemChange, update_item
from daemon.rules.tick import run_tick
from daemon.store.models import ActionItem, DelayRequest, ItemStatus, OutboxMessage
from tests import test_closing
from tests.test_answers_understood import (
    answer_to,
    delay_requests,
    minutes_world,
    morning,
    reply_to,
    tick,
)
from tests.test_ingest import World
from tests.test_minutes_flow import FILLED_ROWS, MEETING_END, form_of

world = test_closing.world  # the fixture: the demo collaboration on the mail stack
__all__ = ["minutes_world"]  # the fixture of a meeting that needs its minutes
EMPTY_ROW = "任务：；负责人：；协作人：；完成标准：；截止日期：；所需支持：；优先级：中\n"
EMPTY_ROWS = "".join(f"{n}. {EMPTY_ROW}" for n in (1, 2, 3))


def outbox_kinds(world: World, kind: str) -> list[OutboxMessage]:
    with world.app.db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
        session.expunge_all()
        return list(rows)


def test_a_delay_to_a_day_before_the_deadline_is_asked_back_not_requested(world):
    # #1 is due Friday 4 December; "延期至12月2日" is no delay (a slip, or finishing sooner)
    reply = reply_to(world, "li.na", "您负责的行动项", "#1 延期至12月2日，原因：提前")
    assert delay_requests(world) == []
    assert world.item(1).status is ItemStatus.NOT_STARTED
    assert str(world.item(1).deadline) == "2026-12-04"
    assert outbox_kinds(world, "delay_approval") == []  # nobody is asked to approve
    text = answer_to(world, "li.na", reply)
    assert "#1：未做更改——2026年12月2日（周三） 早于现在的截止日期 2026年12月4日（周五）" in text
    assert "完成后回复 #1 完成" in text and re.search(r"#1 延期至12月\d+日，原因", text)


def test_a_relative_delay_that_lands_before_the_deadline_is_asked_back(world):
    # Emily's #4 is due 15 December; "next week", written on 23 November, ends 4 December
    reply = reply_to(world, "emily.chen", "items you own", "#4 postpone to next week")
    assert delay_requests(world) == []
    text = answer_to(world, "emily.chen", reply)
    assert "is before its current deadline, Tue 15 Dec 2026, so it is no delay" in text


def test_on_track_after_the_deadline_says_it_is_overdue_and_asks_for_done_or_a_date(world):
    tick(world, morning("2026-12-02"))  # the risk check of #1 (due Friday 4 December)
    world.app.clock.set(morning("2026-12-07"))  # answered the Monday after
    reply = reply_to(world, "li.na", "能否按期完成", "可以按期完成")
    assert [h.action for h in world.history_from(reply["Message-ID"])] == []
    text = answer_to(world, "li.na", reply)
    assert "#1：截止日期 2026年12月4日（周五） 已过，此项已逾期，未记录“可按期完成”" in text
    assert "#1 完成" in text and re.search(r"#1 延期至12月\d+日，原因", text)
    assert "已记录——可按期完成" not in text


def test_on_track_before_the_deadline_is_still_recorded(world):
    tick(world, morning("2026-12-02"))
    world.app.clock.set(morning("2026-12-04"))  # the deadline day itself: not late yet
    reply = reply_to(world, "li.na", "能否按期完成", "能按期完成")
    assert [h.action for h in world.history_from(reply["Message-ID"])] == ["on_track"]


def test_the_initiators_own_delay_takes_effect_and_nobody_approves_themselves(world):
    # 张伟 is the initiator and owns #2 (due 8 December)
    reply = reply_to(world, "zhang.wei", "您负责的行动项", "#2 延期至12月15日，原因：需求文档晚到")
    item = world.item(2)
    assert (str(item.deadline), item.status) == ("2026-12-15", ItemStatus.IN_PROGRESS)
    with world.app.db.transaction() as session:
        (request,) = session.scalars(select(DelayRequest))
        assert (request.status, request.decided_by_id) == ("approved", request.requested_by_id)
    assert outbox_kinds(world, "delay_approval") == []  # not asked to approve himself
    text = answer_to(world, "zhang.wei", reply)
    assert "#2 截止日期已改为 2026年12月15日（周二） ✓（您是发起人" in text
    told = world.received("chen.jing", "延期申请：已生效（发起人本人决定）")  # the coordinator
    body = told.get_body(("plain",)).get_content()
    assert "2026年12月15日" in body and "无需审批" in body
    assert "无需审批" in told.get_body(("html",)).get_content()


def test_an_owners_delay_still_waits_for_the_initiator(world):
    reply_to(world, "li.na", "您负责的行动项", "#1 延期至12月11日，原因：等待评审")
    assert world.item(1).status is ItemStatus.DELAYED
    assert str(world.item(1).deadline) == "2026-12-04"
    (asked,) = outbox_kinds(world, "delay_approval")
    assert "zhang.wei" in asked.recipients


def test_the_answer_to_a_delay_names_the_initiator_who_is_asked(world):
    reply = reply_to(world, "li.na", "您负责的行动项", "#1 延期至12月11日，原因：等待评审")
    assert "待发起人 张伟批准后生效" in answer_to(world, "li.na", reply)


def test_when_coordinators_approve_the_initiators_delay_the_answer_names_the_coordinator(world):
    # 张伟 is the initiator and owns #2; with coordinator_approves_delays 陈静 is asked
    rights = world.app.settings.permissions.model_copy(update={"coordinator_approves_delays": True})
    world.app.settings = world.app.settings.model_copy(update={"permissions": rights})
    reply = reply_to(world, "zhang.wei", "您负责的行动项", "#2 延期至12月15日，原因：需求文档晚到")
    (asked,) = outbox_kinds(world, "delay_approval")
    assert "chen.jing" in asked.recipients
    text = answer_to(world, "zhang.wei", reply)
    assert "待协调人 陈静批准后生效" in text and "发起人" not in text


def test_a_risk_check_before_a_weekend_deadline_counts_the_working_days_left(world):
    with world.app.db.transaction() as session:
        item = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        change = ItemChange(deadline=date(2026, 12, 5))  # a Saturday
        update_item(session, world.app, item, change, Origin.system("test"))
    tick(world, morning("2026-12-03"))  # Thursday: 2 working days before Saturday
    text = world.received("li.na", "能否按期完成").get_body(("plain",)).get_content()
    assert "截止日 2026年12月5日（周六）是周末，不是工作日；在此之前还有1 个工作日" in text
    assert "今天到期" not in text and "还有 2 个工作日" not in text and "还有2" not in text
    assert "（截止日 12月5日 是周末，不是工作日，之前还有 1 个工作日）" in text


def test_a_risk_check_sent_on_the_last_working_day_before_a_weekend_deadline(world):
    with world.app.db.transaction() as session:
        item = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        change = ItemChange(deadline=date(2026, 12, 5))
        update_item(session, world.app, item, change, Origin.system("test"))
    tick(world, morning("2026-12-04"))  # Friday (collabd was down on Thursday)
    mail = world.received("li.na", "能否按期完成")
    for part in ("plain", "html"):
        said = mail.get_body((part,)).get_content()
        assert "今天是截止前最后一个工作日" in said and "今天到期" not in said, part


def test_every_result_of_an_answer_is_on_its_own_line_in_text_and_html(world):
    # a day off (the answer warns and offers the next working day), someone else's item,
    # and a word collabd does not know: three results, each a line of its own
    reply = reply_to(world, "li.na", "您负责的行动项", "#1 延期至12月5日\n#2 完成\n#1 搞定了吗")
    answer = world.received("li.na", in_reply_to=reply["Message-ID"])
    text = answer.get_body(("plain",)).get_content()
    html = answer.get_body(("html",)).get_content()
    shown = [
        line.strip()
        for line in re.sub(r"<br\s*/?>|</p>|</div>|</li>", "\n", html).splitlines()
        if line.strip()
    ]
    lines = [line.strip() for line in text.splitlines()]
    starts = ("#1 → 延期", "#1：请注意", "#2：此行动项不是您的")
    for start in starts:
        (found,) = [line for line in lines if line.startswith(start)]  # one line each …
        assert "#2：" not in found.removeprefix(start) and "✓" not in found, found  # … alone
        (in_html,) = [line for line in shown if line.startswith(start)]  # the same in HTML
        assert "#2：" not in in_html.removeprefix(start), in_html


@pytest.mark.parametrize(
    ("when", "said"),
    [
        ("2026-11-30 14:00", "下次会议已按纪要安排在 2026-11-30 14:00，会议邀请已发给全体参会人"),
        ("2027年1月1日 15:00", "下次会议时间 2027-01-01 15:00 不能按时召开（是法定节假日）"),
    ],
)
def test_the_recorders_answer_says_what_became_of_the_next_meeting(minutes_world, when, said):
    world = minutes_world
    world.at(MEETING_END + timedelta(minutes=1))
    run_tick(world.app)
    world.send()
    request = world.received("chen.jing", "请提交会议纪要")
    typed = form_of(world.body(request)).replace(EMPTY_ROWS, FILLED_ROWS)
    typed = typed.replace("【下次会议】", f"【下次会议】\n{when}")
    reply = world.reply(request, typed, world.address("chen.jing"))
    world.deliver(reply)
    world.at(MEETING_END + timedelta(hours=2))
    assert world.ingest().applied == 1
    world.send()
    answer = world.received("chen.jing", in_reply_to=reply["Message-ID"])
    text = answer.get_body(("plain",)).get_content()
    assert "第1版纪要已发布" in text and said in text
    if "安排在" in said:
        assert world.received("li.na", "2026-11-30")  # and the invitation is out


ROW_1 = FILLED_ROWS.splitlines(keepends=True)[0]
CORRECTED_ROWS = (  # #2 goes to 李娜, #3 is due later, one item more
    "2. 任务：评估需求文档V2.0并反馈；负责人：李娜；协作人：陈静；完成标准：书面评估意见；"
    "截止日期：2026-12-04；所需支持：；优先级：中\n"
    "3. 任务：协调客户沟通“个性化推荐”延后事宜；负责人：赵敏；协作人：王强；"
    "完成标准：重点客户均已知悉；截止日期：12月8日；所需支持：销售部提供客户沟通话术；优先级：中\n"
    "4. 任务：准备上线培训材料；负责人：王强；协作人：；完成标准：培训PPT；"
    "截止日期：12月10日；所需支持：；优先级：低\n"
)


def test_corrected_minutes_tell_attendees_what_changed_since_the_last_version(minutes_world):
    world = minutes_world
    world.at(MEETING_END + timedelta(minutes=1))
    run_tick(world.app)
    world.send()
    request = world.received("chen.jing", "请提交会议纪要")
    form = form_of(world.body(request))
    versions = [FILLED_ROWS, ROW_1 + CORRECTED_ROWS, CORRECTED_ROWS]  # v3 drops #1
    for hours, rows in enumerate(versions, start=2):
        typed = form.replace(EMPTY_ROWS, rows)
        world.deliver(world.reply(request, typed, world.address("chen.jing")))
        world.at(MEETING_END + timedelta(hours=hours))
        assert world.ingest().applied == 1
        world.send()
    second, third = world.received("li.na", "更正第2版"), world.received("li.na", "更正第3版")
    for mail, lines in (
        (
            second,
            (
                "与第1版相比：",
                "新增 #4 准备上线培训材料（负责人 王强，截止 2026-12-10）",
                "#2 负责人：张伟 → 李娜",
                "#3 截止日期：2026-12-06 → 2026-12-08",
            ),
        ),
        (third, ("与第2版相比：", "删除 #1 输出需求文档V2.0（不再在纪要中，台账中保留）")),
    ):
        text, html = world.body(mail), world.html(mail).replace("&gt;", ">")
        for line in lines:
            assert line in text and line in html, line
    assert "#1" not in world.body(second).split("与第1版相比：")[1].split("【")[0]


def test_a_collaborator_hears_once_that_the_item_they_help_with_is_done(world):
    # 赵敏 owns #3, 王强 helps with it (协作人)
    reply_to(world, "zhao.min", "您负责的行动项", "#3 完成")
    assert world.item(3).status is ItemStatus.DONE
    tick(world, morning("2026-11-24"))
    told = world.received("wang.qiang", "#3 已完成（您是协作人）")
    text, html = told.get_body(("plain",)).get_content(), told.get_body(("html",)).get_content()
    for fact in ("负责人 赵敏 完成", "#3 协调客户沟通", "无需回复"):
        assert fact in text and fact in html, fact
    tick(world, morning("2026-11-25"))  # once, however often the rules run
    assert len(outbox_kinds(world, "collaborator_done")) == 1
    assert {m.recipients for m in outbox_kinds(world, "collaborator_done")} == {
        world.address("wang.qiang")
    }  # not the owner


def test_a_collaborator_is_never_chased_for_the_item(world):
    tick(world, morning("2026-12-11"))  # #3 was due 10 December: overdue, escalated
    about_3 = [m for m in outbox_kinds(world, "escalation") if m.item_id == world.item(3).id]
    assert about_3  # the owner and those above are chased …
    assert all(world.address("wang.qiang") not in m.recipients for m in about_3)  # … not him
