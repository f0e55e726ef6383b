"""Sending what the rules decide, through the real Postfix: a 5xx is recorded as failed and
the coordinator told; a 4xx (here: the server is down) is retried with backoff until the
retry deadline, then failed."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from daemon.clock import FixedClock
from daemon.ledger.history import Origin
from daemon.ledger.people import import_people
from daemon.mail.compose import compose
from daemon.mail.render import RenderedMail
from daemon.mail.send import RETRY_DEADLINE, send_due
from daemon.rules.tick import run_tick
from daemon.service.journal import journal_address
from daemon.store.models import OutboxMessage, OutboxStatus, Person
from tests.conftest import DEMO, START
from tests.test_ingest import imap_world, parse
from tests.test_mail_transport import imap_app

__all__ = ["imap_world"]


@pytest.fixture
def world(imap_world):
    """Postfix refusing a foreign domain (5xx) is what these tests need: SMTP only."""
    return imap_world


def test_permanent_failure_tells_the_coordinator(world):
    app = world.app
    with app.db.transaction() as session:  # Emily's address is at a domain Postfix refuses
        session.execute(
            update(Person)
            .where(Person.email == world.address("emily.chen"))
            .values(email="emily.chen@elsewhere.example")
        )
    app.clock = FixedClock(datetime.fromisoformat("2026-12-11T09:00+08:00"))
    report = run_tick(app, app.clock.now())
    assert any("risk_check v2-launch#4 → Emily Chen" in line for line in report.queued)
    sent = send_due(app.db, app.transport.outgoing, app.clock)
    assert [error for _, error in sent.failed] and "elsewhere.example" not in sent.sent
    with app.db.transaction() as session:
        failed = session.scalar(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
        )
        assert failed.recipients == "emily.chen@elsewhere.example"
        assert failed.last_error.startswith("5") or " 5" in failed.last_error
    app.clock.advance(timedelta(minutes=1))
    report = run_tick(app, app.clock.now())
    assert any("delivery failed" in line for line in report.queued)
    assert run_tick(app, app.clock.now()).queued == []  # once
    send_due(app.db, app.transport.outgoing, app.clock)
    notice = world.received("chen.jing", "邮件无法投递")
    assert "emily.chen@elsewhere.example" in notice["Subject"]
    # The reason in her words with what to do, the server's English only as a quote for IT
    # (it used to be 原因：554 5.7.1 … alone).
    body = notice.get_body(("plain",)).get_content()
    assert "对方邮件服务器" in body and "请" in body.split("邮件服务器原话")[0]
    assert "5.7.1" in body.split("邮件服务器原话（供邮件管理员参考）：")[1]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_temporary_failure_is_retried_until_the_deadline(tmp_path, db_url):
    app = imap_app(tmp_path, db_url, "collabd@collabd.test", _closed_port(), _closed_port())
    with app.db.transaction() as session:
        import_people(session, DEMO / "people.csv", Origin.system("test"), START)
    app.clock = FixedClock(datetime.fromisoformat("2026-12-11T09:00+08:00"))
    from daemon.announce import start_collaboration
    from daemon.ledger.specs import load_collaboration_file

    with app.db.transaction() as session:
        start_collaboration(
            session, app, load_collaboration_file(DEMO / "collaboration.toml"), Origin.system("t")
        )
    first = send_due(app.db, app.transport.outgoing, app.clock)
    assert first.deferred and not first.sent and not first.failed
    with app.db.transaction() as session:
        row = session.scalars(select(OutboxMessage)).first()
        assert row.status is OutboxStatus.PENDING and row.not_before > app.clock.now()
    app.clock.advance(RETRY_DEADLINE + timedelta(minutes=1))
    last = send_due(app.db, app.transport.outgoing, app.clock)
    assert last.deferred == [] and len(last.failed) == len(first.deferred)
    with app.db.transaction() as session:
        statuses = {r.status for r in session.scalars(select(OutboxMessage))}
        errors = {r.last_error.split(":")[0] for r in session.scalars(select(OutboxMessage))}
    assert statuses == {OutboxStatus.FAILED}
    assert errors == {"gave up after 2 attempts"}
    app.close()


def queue_plain_mails(app, recipient: str, message_ids: list[str]) -> None:
    """Outbox rows due now, one per Message-ID, to one recipient."""
    with app.db.transaction() as session:
        for n, message_id in enumerate(message_ids):
            raw = compose(
                RenderedMail(f"第 {n} 封", f"正文 {n}\n", f"<p>正文 {n}</p>"),
                sender_name="collabd",
                sender_address=app.settings.mail.address,
                to=[("李娜", recipient)],
                message_id=message_id,
                date=app.clock.now(),
                kind="reminder",
            )
            session.add(
                OutboxMessage(
                    dedupe_key=f"plain:{message_id}",
                    message_id=message_id,
                    kind="reminder",
                    sender=app.settings.mail.address,
                    recipients=recipient,
                    subject=f"第 {n} 封",
                    raw=raw,
                    status=OutboxStatus.PENDING,
                    not_before=app.clock.now(),
                    created_at=app.clock.now(),
                    attempts=0,
                    last_error="",
                )
            )


def test_a_stop_mid_batch_gives_untried_mails_back_and_each_goes_out_once(world):
    # With the journal, one commit marks several mails in flight. A stop (SIGTERM) between
    # mails must take back the marks of those it never tried: they go out on the next run
    # at once, not after journal_grace, and nothing goes out twice.
    app, recipient = world.app, world.address("li.na")
    journal = journal_address(app.settings.mail.address)
    before = len(world.stack.wait_for_mail(recipient, count=1))
    queue_plain_mails(
        app, recipient, [f"<stop-{n}.{world.tag}@{world.stack.domain}>" for n in range(8)]
    )
    asked = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    first = send_due(
        app.db, app.transport.outgoing, app.clock, journal=journal, should_stop=stop_after_two
    )
    assert len(first.sent) == 2
    with app.db.transaction() as session:
        waiting = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.message_id.like("<stop-%"),
                OutboxMessage.status == OutboxStatus.PENDING,
            )
        ).all()
        assert len(waiting) == 6
        assert {(row.sending_since, row.claimed_by) for row in waiting} == {(None, None)}

    second = send_due(app.db, app.transport.outgoing, app.clock, journal=journal)
    assert len(second.sent) == 6
    mails = world.stack.wait_for_mail(recipient, count=before + 8)
    ids = [parse(raw)["Message-ID"] for raw in mails]
    stop_ids = [i for i in ids if i.startswith("<stop-")]
    assert sorted(stop_ids) == sorted(
        f"<stop-{n}.{world.tag}@{world.stack.domain}>" for n in range(8)
    )
    journaled = world.stack.wait_for_mail(app.settings.mail.address, count=8)
    assert len([raw for raw in journaled if b"<stop-" in raw]) == 8  # the journal copies
