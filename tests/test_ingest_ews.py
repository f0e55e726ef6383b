"""Reading replies from an Exchange mailbox through EWS.

NO EXCHANGE SERVER IS INVOLVED: exchangelib talks to tests/ews_server.py, a loopback HTTP
server answering its SOAP requests with bodies shaped like Microsoft's documented EWS
responses (protocol-level fixtures, not a live server). The reply-reading scenarios of
tests/test_ingest.py run on this backend through `EwsWorld`; this module adds what only
EWS has: the sync state as the cursor, the pull subscription, password and NTLM sign-in
(an expired state, throttling and a 503 while sending run on both Exchange backends in
tests/test_exchange_backends.py).
"""

from __future__ import annotations

import time
import uuid
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from daemon.inbound.ingest import ingest_pass
from daemon.mail.transport import TemporaryFailure
from daemon.store.models import MailboxCursor
from tests.ews_fixture import ews_app
from tests.ews_server import EwsServer
from tests.test_ingest import RecordedWorld


class EwsWorld(RecordedWorld):
    """The World of test_ingest.py with its mailboxes on the EWS fixture server: what
    collabd sends is read from the server's record of CreateItem requests, and replies are
    dropped into the collabd mailbox's Inbox."""

    domain = "ews.test"

    def sent_mails(self) -> list[tuple[bytes, list[str]]]:
        return [(sent.mime, sent.to + sent.bcc) for sent in self.server.box.sent]

    def deliver(self, message: EmailMessage, wait: bool = True) -> None:
        self.server.box.deliver(message.as_bytes())

    def inbox_uids(self) -> list[str]:
        return [item.id for item in self.server.box.in_folder("inbox")]

    def quarantined(self) -> int:
        return len(self.server.box.in_folder("collabd/quarantine"))


def ews_world(request, tmp_path, db_url):
    with EwsServer(f"collabd-{uuid.uuid4().hex[:8]}@{EwsWorld.domain}") as server:
        app = ews_app(tmp_path, db_url, server)
        try:
            yield EwsWorld(app, server, tmp_path)
        finally:
            app.close()


@pytest.fixture
def ews_world_(request, tmp_path, db_url):
    yield from ews_world(request, tmp_path, db_url)


def test_sync_state_is_the_cursor_and_downtime_is_caught_up(ews_world_):
    world = ews_world_
    first = world.reply(
        world.received("li.na", "您负责的行动项"), "#1 完成", world.address("li.na")
    )
    world.deliver(first)
    assert world.ingest().applied == 1
    with world.app.db.transaction() as session:
        (cursor,) = session.scalars(select(MailboxCursor))
        stored = cursor.sync_state
    assert stored and cursor.mailbox == world.app.transport.incoming.name

    # collabd is down; two replies arrive; the next incremental pass starts at the cursor.
    zhang = world.received("zhang.wei", "您负责的行动项")
    world.deliver(world.reply(zhang, "#2 进行中 20%", world.address("zhang.wei")))
    zhao = world.received("zhao.min", "您负责的行动项")
    world.deliver(world.reply(zhao, "#3 进行中 50%", world.address("zhao.min")))
    requests_before = len(world.server.box.requests)
    report = ingest_pass(world.app, world.app.transport.incoming, full=False)
    assert (report.applied, report.duplicates) == (2, 0)  # only the new ones were read
    assert (world.item(2).progress, world.item(3).progress) == (20, 50)
    assert "SyncFolderItems" in world.server.box.requests[requests_before:]
    with world.app.db.transaction() as session:
        assert session.get(MailboxCursor, cursor.mailbox).sync_state != stored
    assert world.inbox_uids() == []


def test_pull_subscription_wakes_the_waiter_on_new_mail(ews_world_):
    world = ews_world_
    incoming = world.app.transport.incoming
    started = time.monotonic()
    assert incoming.wait_for_new(0.3, poll=0.1) is False  # nothing yet: waits, says no
    assert time.monotonic() - started >= 0.25
    reply = world.reply(
        world.received("li.na", "您负责的行动项"), "#1 完成", world.address("li.na")
    )
    world.deliver(reply)
    assert incoming.wait_for_new(5, poll=0.1) is True
    assert {"Subscribe", "GetEvents"} <= set(world.server.box.requests)


def test_password_from_a_file_logs_in_and_a_wrong_one_keeps_mail_queued(tmp_path, db_url):
    with EwsServer("collabd@ews.test") as server:
        secret = tmp_path / "ews.pw"
        secret.write_text(server.password + "\n", encoding="utf-8")
        app = ews_app(tmp_path, db_url, server, password="", password_file=str(secret))
        try:
            server.box.deliver(b"From: a@ews.test\r\nMessage-ID: <m1@ews.test>\r\n\r\nhi\r\n")
            assert ingest_pass(app, app.transport.incoming).ignored == 1  # logged in, read it
        finally:
            app.close()
        secret.write_text("wrong\n", encoding="utf-8")
        app = ews_app(tmp_path, db_url, server, password="", password_file=str(secret))
        try:
            with pytest.raises(TemporaryFailure) as raised:
                ingest_pass(app, app.transport.incoming)
            assert "refused the credentials of [mail.ews]" in str(raised.value)
            assert "wrong" not in str(raised.value)  # the secret is never shown
        finally:
            app.close()


def test_ntlm_login_reads_the_mailbox(tmp_path, db_url, monkeypatch):
    """auth = "ntlm", the on-premises default: a real NTLM handshake (the fixture server
    accepts with pyspnego against a credential file), then the same reading and filing."""
    users = tmp_path / "ntlm-users"
    users.write_text("CORP:collab:N7lm-pass\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    monkeypatch.setenv("COLLABD_TEST_EWS_PW", "N7lm-pass")
    with EwsServer("collabd@ews.test", auth="ntlm") as server:
        app = ews_app(
            tmp_path,
            db_url,
            server,
            auth="ntlm",
            username="CORP\\collab",
            password="",
            password_env="COLLABD_TEST_EWS_PW",
        )
        try:
            server.box.deliver(b"From: a@ews.test\r\nMessage-ID: <n1@ews.test>\r\n\r\nhi\r\n")
            assert ingest_pass(app, app.transport.incoming).ignored == 1
            assert server.box.in_folder("inbox") == []
            assert server.box.logins and server.box.logins[0].lower().endswith("collab")
        finally:
            app.close()
        monkeypatch.setenv("COLLABD_TEST_EWS_PW", "wrong")
        app = ews_app(
            tmp_path,
            db_url,
            server,
            auth="ntlm",
            username="CORP\\collab",
            password="",
            password_env="COLLABD_TEST_EWS_PW",
        )
        try:
            with pytest.raises(TemporaryFailure, match="refused the credentials"):
                ingest_pass(app, app.transport.incoming)
        finally:
            app.close()
