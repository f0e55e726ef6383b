"""Self-service by mail through the real stack: `我的任务` / `my items` from a known person
is answered with their open items, one mail per collaboration, and a reply to that answer
updates items like a reply to a reminder, each `#N` in the collaboration of its mail."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from daemon.announce import assign_items, start_collaboration
from daemon.ledger.history import Origin
from daemon.ledger.specs import CollaborationSpec, ItemSpec
from daemon.mail.send import send_due
from daemon.store.models import ActionItem, Collaboration, InboundMessage, ItemStatus
from tests.test_ingest import _imap_world


@pytest.fixture
def world(request, tmp_path, db_url):
    yield from _imap_world(request, tmp_path, db_url)


def ask(world, sender: str, subject: str, body: str = "") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = world.app.settings.mail.address
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain=world.stack.domain)
    mail["Date"] = "Mon, 30 Nov 2026 10:00:00 +0800"
    mail.set_content(body or "\n")
    world.deliver(mail)
    return mail


def test_my_items_are_answered_per_collaboration_and_a_reply_updates_them(world):
    # 李娜 owns #1 of v2-launch (by department, 市场部) and nothing else
    request = ask(world, world.address("li.na"), "我的任务")
    report = world.ingest()
    assert report.applied == 1
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    answer = world.received("li.na", in_reply_to=request["Message-ID"])
    text = answer.get_body(("plain",)).get_content()
    html = answer.get_body(("html",)).get_content()
    assert "[协作 v2-launch] 我的任务" in answer["Subject"]
    assert "#1 输出需求文档V2.0" in text and "2026年12月4日" in text and "未开始" in text
    assert "更新：#1 进行中 30%" in text and "更新：#1 进行中 30%" in html

    # she answers with the very line the mail suggests: it works like a reminder's reply
    reply = world.reply(answer, "#1 进行中 30%", world.address("li.na"))
    world.deliver(reply)
    assert world.ingest().applied == 1
    assert (world.item(1).status, world.item(1).progress) == (ItemStatus.IN_PROGRESS, 30)


def test_several_collaborations_get_one_mail_each_and_numbers_stay_in_theirs(world):
    with world.app.db.transaction() as session:
        spec = CollaborationSpec(
            code="crm",
            theme="客户回访",
            initiator=world.address("zhang.wei"),
            participants=[{"department": "销售部", "contact": world.address("wang.qiang")}],
        )
        collab = start_collaboration(session, world.app, spec, Origin.system("test"))
        assign_items(
            session,
            world.app,
            collab,
            [ItemSpec(description="回访重点客户", owner=world.address("emily.chen"))],
            Origin.system("test"),
        )
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)

    ask(world, world.address("emily.chen"), "Hello", "my items\n\nthanks, Emily")
    assert world.ingest().applied == 1
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    first = world.received("emily.chen", "[collab crm] My items")
    second = world.received("emily.chen", "[collab v2-launch] My items")
    assert "(1/2)" in first["Subject"] + second["Subject"]
    assert "#1 回访重点客户" in first.get_body(("plain",)).get_content()
    v2 = second.get_body(("plain",)).get_content()
    assert "#4 Draft the V2.0 launch materials" in v2 and "Update: #4 in progress 30%" in v2

    # `#1 done` in the crm mail is crm's #1, not v2-launch's #1
    world.deliver(world.reply(first, "#1 done", world.address("emily.chen")))
    assert world.ingest().applied == 1
    with world.app.db.transaction() as session:
        rows = session.execute(
            select(Collaboration.code, ActionItem.number, ActionItem.status).join(Collaboration)
        ).all()
    status = {(code, number): s for code, number, s in rows}
    assert status[("crm", 1)] is ItemStatus.DONE
    assert status[("v2-launch", 1)] is ItemStatus.NOT_STARTED


def test_strangers_and_people_without_items_are_handled(world):
    ask(world, "someone@elsewhere.example", "我的任务")
    ask(world, world.address("liu.yang"), "Re: 我的任务")  # known, owns nothing
    assert world.ingest().applied == 1
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    nothing = world.received("liu.yang", "我的任务")
    assert "您目前没有未完成的行动项" in nothing.get_body(("plain",)).get_content()
    with world.app.db.transaction() as session:
        whys = [m.detail for m in session.scalars(select(InboundMessage))]
    assert any("unknown address: not answered" in why for why in whys)
