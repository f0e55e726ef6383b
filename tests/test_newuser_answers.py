"""A new user's findings about the lines collabd suggests (issue 16 review, F28 and F1), through
the real mail stack (Postfix + Dovecot, IMAP) on SQLite and PostgreSQL: a suggested line sent
back as written never stores its placeholder as a note, an old mail's example does not reopen
a finished item, and the examples an answer shows are the reader's own and work when sent back.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select

from daemon.mail.send import send_due
from daemon.rules.tick import run_tick
from daemon.store.models import ItemStatus, OutboxMessage
from tests import test_closing
from tests.test_answers_understood import answer_to, minutes_world, morning, reply_to, tick
from tests.test_minutes_flow import MEETING_END

world = test_closing.world  # the fixture: the demo collaboration on the mail stack
__all__ = ["minutes_world"]  # the fixture: a meeting of the demo that has ended


def test_a_placeholder_sent_back_as_written_is_not_stored_as_a_note(world):
    tick(world, morning("2026-12-02"))
    before = world.item(1).note
    reply = reply_to(world, "li.na", "能否按期完成", "#1 阻塞: 原因\n")
    item = world.item(1)
    assert item.status is ItemStatus.BLOCKED
    assert item.note == before  # not "原因"
    assert "原因" not in answer_to(world, "li.na", reply).split("当前状态")[0].split("#1 →")[1]


def test_an_old_mails_example_does_not_reopen_a_finished_item(world):
    tick(world, morning("2026-12-08"))  # #1 was due 4 December: overdue, escalated
    escalation = world.received("li.na", "已逾期")
    world.app.clock.set(morning("2026-12-08") + timedelta(hours=1))
    reply_to(world, "li.na", "您负责的行动项", "#1 完成")  # finished from a later mail
    assert world.item(1).status is ItemStatus.DONE
    old = world.reply(escalation, "#1 进行中 备注", world.address("li.na"))
    world.deliver(old)
    world.ingest()
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.DONE, 100)
    assert item.note != "备注"
    said = answer_to(world, "li.na", old)
    assert "#1：未做更改——此项已于" in said and "完成" in said
    # reopening is explicit: the answer's own line, sent back to the answer, reopens it
    line = re.search(r"请回复本邮件：(#1 进行中 原因：……)", said).group(1)
    answer = world.received("li.na", in_reply_to=old["Message-ID"])
    again = world.reply(answer, line, world.address("li.na"))
    world.deliver(again)
    world.ingest()
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    assert world.item(1).status is ItemStatus.IN_PROGRESS
    assert world.item(1).note != "……"


def _examples(text: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith("更新您的行动项"))
    return line.split("：", 1)[1].split(" / ")


def test_an_answer_suggests_the_readers_own_items_and_each_line_works_sent_back(world):
    tick(world, morning("2026-12-02"))
    reply = reply_to(world, "li.na", "能否按期完成", "#1 进行中 30%")
    text = answer_to(world, "li.na", reply)
    lines = _examples(text)
    assert lines and all(line.startswith("#1 ") for line in lines)  # 李娜 owns #1 only
    delay = next(line for line in lines if "延期至" in line)
    deadline = world.item(1).deadline
    asked = re.search(r"延期至(\d+)月(\d+)日", delay)
    day = deadline.replace(month=int(asked.group(1)), day=int(asked.group(2)))
    assert day > deadline and day.weekday() < 5  # a real delay, to a working day
    answer = world.received("li.na", in_reply_to=reply["Message-ID"])
    for line in reversed(lines):  # 完成 last: it closes the item
        back = world.reply(answer, line, world.address("li.na"))
        world.deliver(back)
        world.ingest()
        send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
        said = answer_to(world, "li.na", back)
        assert "不是您的" not in said and "无法识别" not in said, (line, said)
        assert "#1 →" in said or "#1 截止日期已改为" in said, (line, said)


def test_someone_who_owns_nothing_open_gets_no_item_examples(world):
    tick(world, morning("2026-12-02"))
    reply = reply_to(world, "li.na", "能否按期完成", "#1 完成")
    text = answer_to(world, "li.na", reply)
    assert "更新您的行动项" not in text and "#3 完成" not in text
    assert "您在本协作中没有未完成的行动项" in text


def test_minutes_filled_in_the_html_request_do_not_publish_collabds_signature(minutes_world):
    """F26: Outlook, HTML only: the request's own HTML with a row of its table filled in."""
    mw = minutes_world
    mw.at(MEETING_END + timedelta(minutes=5))
    run_tick(mw.app)
    mw.send()
    request = mw.received("chen.jing", "请提交会议纪要")
    html = mw.html(request)
    cell = r"<td[^>]*>{}</td>"
    empty_row = re.compile(r"<tr>" + cell.format("1") + "(?:" + cell.format("[^<]*") + ")+</tr>")
    filled = "".join(
        f"<td>{text}</td>"
        for text in ("1", "整理报表口径", "李娜", "", "口径文档评审通过", "12月2日", "", "高")
    )
    assert empty_row.search(html), html
    reply = EmailMessage()
    reply["From"] = mw.address("chen.jing")
    reply["To"] = request["Reply-To"]
    reply["Subject"] = "答复: " + request["Subject"]
    reply["Message-ID"] = make_msgid(domain=mw.stack.domain)
    reply["In-Reply-To"] = reply["References"] = request["Message-ID"]
    reply.set_content(empty_row.sub("<tr>" + filled + "</tr>", html, count=1), subtype="html")
    mw.deliver(reply)
    mw.at(MEETING_END + timedelta(hours=1))
    assert mw.ingest().applied == 1
    mw.send()
    published = mw.body(mw.received("li.na", "会议纪要请确认"))
    assert "#1 整理报表口径" in published
    assert "协作助手" not in published.split("【下次会议】")[1].split("——")[0]
    assert "collabd" not in (mw.view().get("next_meeting") or "")
    # F9: the host who objects is not sent his own objection with the recorder's instructions
    to_host = mw.received("zhang.wei", "会议纪要请确认")
    mw.deliver(mw.reply(to_host, "有异议：#1 应由王强负责", mw.address("zhang.wei")))
    mw.ingest()
    with mw.app.db.transaction() as session:
        told = session.scalars(
            select(OutboxMessage.recipients).where(OutboxMessage.kind == "minutes_objection")
        ).all()
    assert told == [mw.address("chen.jing")]
