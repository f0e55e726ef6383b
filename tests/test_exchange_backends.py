"""What the two Exchange backends must do alike, asserted once and run on each: EWS against
tests/ews_server.py and Microsoft Graph against tests/graph_server.py (loopback fixtures
answering like Microsoft's documented responses, not live servers), on SQLite and
PostgreSQL. The reply-reading scenarios themselves are tests/test_ingest.py's, which runs
on IMAP, EWS and Graph; test_ingest_ews.py and test_ingest_graph.py keep only what one
backend has (sync state vs delta links, NTLM, upload sessions …). An expired cursor, a
throttled read and an HTTP 503 while sending are asserted here, once for both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from daemon.inbound.ingest import ingest_pass
from daemon.mail.send import send_due
from daemon.mail.transport import TemporaryFailure
from daemon.store.models import InboundMessage, ItemStatus, OutboxMessage
from tests.test_ingest import parse
from tests.test_ingest_ews import ews_world
from tests.test_ingest_graph import graph_world


@pytest.fixture(params=["ews", "graph"])
def exchange(request, tmp_path, db_url):
    """(world, mailbox): the mailbox is the fixture's record of the collabd mailbox —
    what was sent, its folders, the recipients it refuses, the faults to answer with."""
    make = ews_world if request.param == "ews" else graph_world
    for world in make(request, tmp_path, db_url):
        mailbox = world.server.box if request.param == "ews" else world.server.tenant
        yield request.param, world, mailbox


def _expire_cursor(backend, mailbox) -> None:
    """Exchange forgets collabd's cursor: EWS its sync state, Graph its delta token (410)."""
    if backend == "ews":
        mailbox.expire_sync_states()
    else:
        mailbox.expire_delta_tokens()


def _fail_next_read(backend, mailbox, seconds: int) -> None:
    """The next read of the inbox is refused for `seconds`: EWS ErrorServerBusy with its
    BackOffMilliseconds, Graph 503 with Retry-After (longer than collabd waits inline)."""
    if backend == "ews":
        mailbox.fail_next("busy", "SyncFolderItems", back_off_ms=seconds * 1000)
    else:
        mailbox.fail_next(503, "/messages/delta", retry_after=seconds)


def _fail_next_send(backend, mailbox) -> None:
    """HTTP 503 with no word on when to come back."""
    if backend == "ews":
        mailbox.fail_next("503", "CreateItem")
    else:
        mailbox.fail_next(503, "/sendMail")


def _reply(world, body: str):
    return world.reply(world.received("li.na", "您负责的行动项"), body, world.address("li.na"))


def test_mail_goes_out_as_the_exact_mime_collabd_composed(exchange):
    backend, world, mailbox = exchange
    assert len(mailbox.sent) == 10  # as the IMAP world: kickoffs, assignments, 协作人
    with world.app.db.transaction() as session:
        rows = {row.message_id: row.raw for row in session.scalars(select(OutboxMessage))}
    for mail in mailbox.sent:  # byte for byte: headers, Message-ID and reply token as SMTP
        assert rows[parse(mail.mime)["Message-ID"]] == mail.mime
    reply_to = world.received("li.na", "您负责的行动项")["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith("collabd-") and "+" in reply_to  # the reply token survives
    assert len(mailbox.in_folder("sentitems")) == 10  # a copy, as Outlook keeps
    if backend == "graph":
        assert mailbox.token_requests == 1  # msal's cache: one sign-in for all


def test_refused_recipient_is_a_permanent_failure(exchange):
    _, world, mailbox = exchange
    mailbox.rejected_recipients.add(world.address("li.na"))
    world.deliver(_reply(world, "#1 进行中 50%"))
    assert world.ingest().applied == 1
    report = send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    assert report.sent == [] and len(report.failed) == 1
    assert "ErrorInvalidRecipients" in report.failed[0][1]


def test_throttled_send_waits_as_long_as_the_server_asked(exchange):
    backend, world, mailbox = exchange
    world.deliver(_reply(world, "#1 进行中 50%"))
    assert world.ingest().applied == 1
    if backend == "ews":
        mailbox.fail_next("busy", "CreateItem", back_off_ms=10 * 60 * 1000)
    else:
        mailbox.fail_next(429, "/sendMail", retry_after=600)
    report = send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    assert report.sent == [] and "600s" in report.deferred[0][1]
    (answer,) = world.answers()
    assert answer.not_before == world.app.clock.now() + timedelta(minutes=10)  # not 1 min
    world.app.clock.advance(timedelta(minutes=5))
    assert send_due(world.app.db, world.app.transport.outgoing, world.app.clock).sent == []
    world.app.clock.advance(timedelta(minutes=5))
    assert len(send_due(world.app.db, world.app.transport.outgoing, world.app.clock).sent) == 1
    answered = world.received("li.na", in_reply_to=parse(answer.raw)["In-Reply-To"])
    assert "#1 → 进行中 50% ✓" in answered.get_body(("plain",)).get_content()


def test_an_expired_cursor_means_a_new_round_that_changes_nothing_twice(exchange):
    backend, world, mailbox = exchange
    reply = _reply(world, "#1 完成")
    world.deliver(reply)
    assert world.ingest().applied == 1
    world.deliver(reply)  # the same mail again, and Exchange forgets collabd's cursor
    _expire_cursor(backend, mailbox)
    report = ingest_pass(world.app, world.app.transport.incoming, full=False)
    assert world.app.transport.incoming.resyncs == 1
    assert (report.applied, report.duplicates) == (0, 1)
    changes = [h for h in world.history_from(reply["Message-ID"]) if h.field]
    assert len(changes) == 2  # status + progress, once
    assert world.inbox_uids() == []
    with world.app.db.transaction() as session:
        assert session.scalar(select(InboundMessage).where(InboundMessage.attempts > 1)) is None


def test_a_throttled_read_is_temporary_with_the_servers_back_off(exchange):
    backend, world, mailbox = exchange
    world.deliver(_reply(world, "#1 完成"))
    _fail_next_read(backend, mailbox, 120)
    with pytest.raises(TemporaryFailure) as raised:
        world.ingest()
    assert raised.value.retry_after == 120
    assert any(word in str(raised.value) for word in ("throttled", "unavailable"))
    assert world.item(1).status is ItemStatus.NOT_STARTED and len(world.inbox_uids()) == 1
    assert world.ingest().applied == 1  # the next pass, once Exchange lets us back in
    assert world.item(1).status is ItemStatus.DONE


# The sending tests reply "in progress": a "done" reply would also queue an acceptance
# request, and these tests follow exactly one mail through the outbox.
def test_http_503_while_sending_defers_the_mail_and_keeps_it(exchange):
    backend, world, mailbox = exchange
    reply = _reply(world, "#1 进行中 50%")
    world.deliver(reply)
    assert world.ingest().applied == 1
    _fail_next_send(backend, mailbox)
    report = send_due(world.app.db, world.app.transport.outgoing, world.app.clock)
    assert report.sent == [] and len(report.deferred) == 1
    (answer,) = world.answers()
    assert answer.sent_at is None and answer.attempts == 1 and "503" in answer.last_error
    world.app.clock.advance(timedelta(minutes=2))  # past the retry back-off
    assert len(send_due(world.app.db, world.app.transport.outgoing, world.app.clock).sent) == 1
    answered = world.received("li.na", in_reply_to=reply["Message-ID"])
    assert "#1 → 进行中 50% ✓" in answered.get_body(("plain",)).get_content()
