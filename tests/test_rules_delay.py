"""Delay approval through the real mail stack: the owner asks for a new date by reply, the
initiator approves or rejects by reply, the deadline changes only on approval, and both
hear the outcome."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from daemon.mail.send import send_due
from daemon.store.models import DelayRequest, ItemStatus, OutboxMessage
from tests.test_ingest import world

__all__ = ["world"]


def _flow(world, answer: str):
    assignment = world.received("li.na", "您负责的行动项")
    world.deliver(
        world.reply(assignment, "#1 延期至12月11日，原因：客户未回复", world.address("li.na"))
    )
    assert world.ingest().applied == 1
    assert world.item(1).deadline == date(2026, 12, 4)  # not yet: the initiator decides
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    request_mail = world.received("zhang.wei", "延期申请待批准")
    assert "申请延期至：2026年12月11日" in request_mail.get_body(("plain",)).get_content()
    world.deliver(world.reply(request_mail, answer, world.address("zhang.wei")))
    assert world.ingest().applied == 1
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    return world.item(1)


def test_initiator_approves_by_reply(world):
    item = _flow(world, "同意")
    assert item.deadline == date(2026, 12, 11)
    assert item.status is ItemStatus.IN_PROGRESS
    assert "已批准" in world.received("li.na", "延期申请：已批准")["Subject"]
    assert "已批准" in world.received("zhang.wei", "延期申请：已批准")["Subject"]
    with world.app.db.transaction() as session:
        request = session.scalar(select(DelayRequest))
        assert request.status == "approved"
        kinds = [
            (row.kind, row.rule_id)
            for row in session.scalars(select(OutboxMessage).where(OutboxMessage.item_id == 1))
        ]
    assert ("delay_approval", "delay.approval") in kinds


def test_initiator_rejects_with_a_reason(world):
    item = _flow(world, "驳回：发布会日期不能变")
    assert item.deadline == date(2026, 12, 4)
    assert item.status is ItemStatus.IN_PROGRESS
    body = world.received("li.na", "延期申请：已驳回").get_body(("plain",)).get_content()
    assert "发布会日期不能变" in body


def test_approving_an_older_request_decides_nothing_and_points_to_the_newest(world):
    """An owner who asks twice gets two approval mails out; 同意 to the first must not
    approve the second (a different date) — it is answered with the newer request."""
    assignment = world.received("li.na", "您负责的行动项")
    for asked in ("#1 延期至12月11日，原因：客户未回复", "#1 延期至12月18日，原因：客户仍未回复"):
        world.deliver(world.reply(assignment, asked, world.address("li.na")))
        assert world.ingest().applied == 1
        send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    first = world.received("zhang.wei", "延期至 2026年12月11日")
    # One approval mail per item an hour (outside attack F12): the second waits for it.
    world.app.clock.set(world.app.clock.now() + timedelta(minutes=61))
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    second = world.received("zhang.wei", "延期至 2026年12月18日")

    world.deliver(world.reply(first, "同意", world.address("zhang.wei")))
    world.ingest()
    send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    assert world.item(1).deadline == date(2026, 12, 4)  # nothing decided
    answer = world.received("zhang.wei", "延期申请：未处理")
    for part in ("plain", "html"):
        text = answer.get_body((part,)).get_content()
        assert "已被" in text and "取代" in text and "2026年12月18日" in text, part
        assert "superseded" not in text

    world.deliver(world.reply(second, "同意", world.address("zhang.wei")))
    assert world.ingest().applied == 1
    assert world.item(1).deadline == date(2026, 12, 18)
