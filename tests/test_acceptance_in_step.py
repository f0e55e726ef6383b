"""The acceptance round and the item's state stay in step (issue 16), on the real mail
stack: a rejection never turns a meanwhile blocked item into 进行中 100%, an accepted item
is 已完成 whatever its owner said meanwhile, a delay asked for a done item is refused with
an answer that says so, and a delay request still waiting when the item is done is
withdrawn and the initiator told."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from daemon.store.models import AcceptanceRequest, DelayRequest, ItemStatus, OutboxMessage, Verdict
from tests import test_closing
from tests.conftest import START
from tests.test_closing import at, latest, send, text_of

world = test_closing.world  # the fixture: the demo's people on the real mail stack


def _reply(world, mail, typed: str, who: str):
    message = world.reply(mail, typed, world.address(who))
    world.deliver(message)
    world.ingest()
    send(world)
    return message


def test_a_verdict_keeps_the_item_in_step_with_what_its_owner_said(world):
    assignment = world.received("li.na", "您负责的行动项")
    at(world, START + timedelta(days=3))
    _reply(world, assignment, "#1 完成", "li.na")
    request_mail = latest(world, "zhang.wei", "请验收 #1")
    # meanwhile 李娜 finds a gap and says so
    at(world, START + timedelta(days=3, hours=2))
    _reply(world, assignment, "#1 阻塞：等待研发确认可选功能", "li.na")
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.BLOCKED, 90)  # reopened: not 100%

    at(world, START + timedelta(days=4))
    _reply(world, request_mail, "不通过：缺少可选功能列表", "zhang.wei")
    item = world.item(1)
    assert (item.status, item.progress, item.note) == (
        ItemStatus.BLOCKED,
        90,
        "验收不通过：缺少可选功能列表",
    )  # still blocked: the rejection does not unblock it, nor make it 100%
    notice = latest(world, "li.na", "#1 验收不通过")
    assert "缺少可选功能列表" in text_of(notice)

    # round 2: delivered again, then 李娜 writes 进行中 10% before 张伟 accepts
    at(world, START + timedelta(days=7))
    _reply(world, notice, "#1 完成", "li.na")
    second = latest(world, "zhang.wei", "请验收 #1", count=2)
    _reply(world, assignment, "#1 进行中 10%", "li.na")
    at(world, START + timedelta(days=8))
    _reply(world, second, "通过", "zhang.wei")
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.DONE, 100)
    with world.app.db.transaction() as session:
        rounds = session.scalars(select(AcceptanceRequest).order_by(AcceptanceRequest.round))
        assert [r.verdict for r in rounds] == [Verdict.REJECTED, Verdict.ACCEPTED]


def test_delays_and_done_items(world):
    assignment = world.received("li.na", "您负责的行动项")
    at(world, START + timedelta(days=2))
    _reply(world, assignment, "#1 延期至12月9日，原因：等待研发排期", "li.na")
    assert latest(world, "zhang.wei", "延期")  # the initiator is asked to approve

    # done before the initiator decided: the request is withdrawn and 张伟 told
    at(world, START + timedelta(days=3))
    _reply(world, assignment, "#1 完成", "li.na")
    with world.app.db.transaction() as session:
        (request,) = session.scalars(select(DelayRequest))
        assert request.status == "withdrawn"
    told = latest(world, "zhang.wei", "#1 延期申请：已撤回")
    assert "已完成" in text_of(told) and "无需再审批" in text_of(told)
    assert world.item(1).deadline.isoformat() == "2026-12-04"

    # a delay asked for the done item: refused, said, nothing asked of the initiator
    at(world, START + timedelta(days=4))
    late = _reply(world, assignment, "#1 延期至12月11日，原因：补充附录", "li.na")
    answer = world.received("li.na", in_reply_to=late["Message-ID"])
    assert "#1：该行动项已完成，无需延期" in text_of(answer)
    assert world.item(1).status is ItemStatus.DONE
    with world.app.db.transaction() as session:
        approvals = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.kind == "delay_approval")
        ).all()
        assert len(approvals) == 1  # only the first request's
