"""Reading replies from, and sending through, an Exchange Online mailbox with Microsoft Graph.

NO MICROSOFT 365 TENANT IS INVOLVED: collabd (and msal, for the token) talk over TLS to
tests/graph_server.py, a loopback HTTPS server answering with bodies shaped like Microsoft's
documented Graph responses (protocol-level fixtures, not a live service). The reply-reading
scenarios of tests/test_ingest.py run on this backend through `GraphWorld`; this module adds
what only Graph has: the delta link as the cursor and its paging, a short Retry-After
waited inline, a send whose answer was lost, sign-in with the app's secret.
"""

from __future__ import annotations

import json
import stat
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from daemon.inbound.ingest import ingest_pass
from daemon.mail.send import send_due
from daemon.mail.transport import TemporaryFailure
from daemon.store.models import MailboxCursor
from tests.graph_fixture import graph_app, start_graph
from tests.test_ingest import RecordedWorld


class GraphWorld(RecordedWorld):
    """The World of test_ingest.py with its mailboxes on the Graph fixture: what collabd
    sends is read from the fixture's record of sendMail requests, and replies are dropped
    into the collabd mailbox's Inbox."""

    domain = "contoso.test"

    def sent_mails(self) -> list[tuple[bytes, list[str]]]:
        return [(sent.mime, sent.to + sent.bcc) for sent in self.server.tenant.sent]

    def deliver(self, message: EmailMessage, wait: bool = True) -> None:
        self.server.tenant.deliver(message.as_bytes())

    def inbox_uids(self) -> list[str]:
        return [m.id for m in self.server.tenant.in_folder("inbox")]

    def quarantined(self) -> int:
        return len(self.server.tenant.in_folder("collabd/quarantine"))


def graph_world(request, tmp_path, db_url):
    monkeypatch = request.getfixturevalue("monkeypatch")
    address = f"collabd-{uuid.uuid4().hex[:8]}@{GraphWorld.domain}"
    server = start_graph(address, tmp_path / "graph-tls", monkeypatch)
    app = graph_app(tmp_path, db_url, server)
    try:
        yield GraphWorld(app, server, tmp_path)
    finally:
        app.close()
        server.__exit__(None, None, None)


@pytest.fixture
def graph_world_(request, tmp_path, db_url):
    yield from graph_world(request, tmp_path, db_url)


def _reply(world, local="li.na", body="#1 完成"):
    return world.reply(world.received(local, "您负责的行动项"), body, world.address(local))


def test_delta_link_is_the_cursor_paging_follows_next_links_and_downtime_is_caught_up(
    graph_world_,
):
    world = graph_world_
    tenant = world.server.tenant
    first = _reply(world)
    world.deliver(first)
    assert world.ingest().applied == 1
    with world.app.db.transaction() as session:
        (cursor,) = session.scalars(select(MailboxCursor))
        stored = cursor.sync_state
    assert "$deltatoken=" in stored and cursor.mailbox == world.app.transport.incoming.name

    # collabd is down; more replies arrive than fit on one delta page (50) …
    zhang = world.received("zhang.wei", "您负责的行动项")
    world.deliver(world.reply(zhang, "#2 进行中 20%", world.address("zhang.wei")))
    for n in range(60):  # … mostly mail nobody needs to act on
        tenant.deliver(
            f"From: x{n}@contoso.test\r\nMessage-ID: <n{n}@contoso.test>\r\n\r\nhi\r\n".encode()
        )
    zhao = world.received("zhao.min", "您负责的行动项")
    world.deliver(world.reply(zhao, "#3 进行中 50%", world.address("zhao.min")))
    before = len(tenant.requests)
    report = ingest_pass(world.app, world.app.transport.incoming, full=False)
    assert (report.applied, report.ignored, report.duplicates) == (2, 60, 0)  # only the new
    assert (world.item(2).progress, world.item(3).progress) == (20, 50)
    delta_calls = [r for r in tenant.requests[before:] if r.endswith("/messages/delta")]
    assert len(delta_calls) == 2  # the delta link, then one @odata.nextLink page
    with world.app.db.transaction() as session:
        assert session.get(MailboxCursor, cursor.mailbox).sync_state != stored
    assert world.inbox_uids() == []
    assert len(tenant.in_folder("collabd/processed")) == 63  # moved only after the commit


def test_a_short_retry_after_is_waited_inline(graph_world_):
    # A long one is handed back to the caller: test_exchange_backends.py, on both backends.
    world = graph_world_
    tenant = world.server.tenant
    world.deliver(_reply(world))
    tenant.fail_next(429, "/messages/delta", retry_after=1)  # waited here, then sent again
    started = time.monotonic()
    assert world.ingest().applied == 1
    assert time.monotonic() - started >= 1


def _unknown_send(world, fault: str):
    """A reply answer whose sendMail lost its answer: `drop` (Graph took it) or `reset`."""
    from daemon.service.journal import settle_unknown

    world.deliver(_reply(world, body="#1 进行中 50%"))
    assert world.ingest().applied == 1
    world.server.tenant.fail_next(fault, "/sendMail")
    outgoing = world.app.transport.outgoing
    report = send_due(world.app.db, outgoing, world.app.clock, provable=True)
    assert report.sent == [] and "broke" in report.deferred[0][1]
    (answer,) = world.answers()
    assert answer.sending_since is not None  # in flight: neither sent nor due again

    def settle():
        return settle_unknown(
            world.app.db,
            world.app.clock.now(),
            grace=timedelta(minutes=10),
            journaled=False,
            synced_since=None,
            proof=outgoing.sent_copy_exists,
        )

    return answer, settle


def test_a_send_whose_answer_was_lost_is_proved_by_sent_items_and_not_sent_again(
    graph_world_,
):
    world = graph_world_
    answer, settle = _unknown_send(world, "drop")
    assert settle() == (1, 0)  # its copy is in Sent Items (internetMessageId): it went out
    (answer,) = world.answers()
    assert answer.status.value == "sent"
    world.app.clock.advance(timedelta(hours=1))
    assert send_due(world.app.db, world.app.transport.outgoing, world.app.clock).sent == []
    copies = [s for s in world.server.tenant.sent if s.message["Message-ID"] == answer.message_id]
    assert len(copies) == 1


def test_a_send_that_never_reached_graph_goes_again_after_the_grace(graph_world_):
    world = graph_world_
    answer, settle = _unknown_send(world, "reset")
    assert settle() == (0, 0)  # no copy yet, but it may still be on its way: wait
    world.app.clock.advance(timedelta(minutes=11))
    assert settle() == (0, 1)  # no copy after the grace: it never went; send it again
    assert len(send_due(world.app.db, world.app.transport.outgoing, world.app.clock).sent) == 1
    copies = [s for s in world.server.tenant.sent if s.message["Message-ID"] == answer.message_id]
    assert len(copies) == 1


def test_the_app_signs_in_with_its_secret_and_a_wrong_one_keeps_mail_queued(
    tmp_path, db_url, graph_server
):
    from daemon.mail.oauth import sign_in_rows

    tenant = graph_server.tenant
    secret = tmp_path / "graph.secret"
    secret.write_text(tenant.client_secret + "\n", encoding="utf-8")
    app = graph_app(
        tmp_path, db_url, graph_server, client_secret="", client_secret_file=str(secret)
    )
    try:
        tenant.deliver(b"From: a@contoso.test\r\nMessage-ID: <m1@contoso.test>\r\n\r\nhi\r\n")
        assert ingest_pass(app, app.transport.incoming).ignored == 1  # signed in, read it
        tenant.expire_access_tokens()  # Graph answers 401: one fresh token, then on
        tenant.deliver(b"From: a@contoso.test\r\nMessage-ID: <m2@contoso.test>\r\n\r\nhi\r\n")
        assert ingest_pass(app, app.transport.incoming).ignored == 1
        assert tenant.token_requests == 2
        if app.db.dialect == "postgresql":  # kept in the ledger, shared by replicas
            (row,) = sign_in_rows(app.db)
            assert row.account.startswith("microsoft/graph/") and row.last_error is None
        shown = status_of(app)  # `collabd status`, another process: on SQLite too
        assert shown["token_expires_at"] and shown["last_error"] is None
        assert shown["signed_in_at"] and shown["user"] == tenant.address
    finally:
        app.close()
    secret.write_text("Wr0ng-secret\n", encoding="utf-8")
    tenant.expire_access_tokens()  # a stored token is refused; a new one needs the secret
    app = graph_app(
        tmp_path, db_url, graph_server, client_secret="", client_secret_file=str(secret)
    )
    try:
        with pytest.raises(TemporaryFailure) as raised:
            ingest_pass(app, app.transport.incoming)
        assert "AADSTS7000215" in str(raised.value) and "[mail.oauth]" in str(raised.value)
        assert "Wr0ng" not in str(raised.value)  # the secret is never shown
        shown = status_of(app)
        assert "AADSTS7000215" in shown["last_error"]
        kept = app.settings.data_dir / "graph-sign-in.json"
        if app.db.dialect == "sqlite":  # what status reads there: no token, not for others
            assert stat.S_IMODE(kept.stat().st_mode) == 0o600
            assert not any(token in kept.read_text() for token in tenant.tokens)
        else:
            assert not kept.exists()
        assert "Wr0ng" not in json.dumps(shown)
    finally:
        app.close()


def status_of(app) -> dict:
    """The sign-in facts `collabd status --json` shows, read by an App of its own (status
    runs in another process than the daemon that signed in)."""
    from daemon.app import App
    from daemon.service.health import assess

    other = App(app.settings, clock=app.clock)
    try:
        return assess(other).to_json()["sign_in"]
    finally:
        other.close()


def test_waiting_notices_new_mail_by_the_folders_newest_message(graph_world_):
    world = graph_world_
    incoming = world.app.transport.incoming
    world.ingest()  # a pass notes the newest message (none)
    started = time.monotonic()
    assert incoming.wait_for_new(0.3, poll=0.1) is False  # nothing yet: waits, says no
    assert time.monotonic() - started >= 0.25
    world.deliver(_reply(world))
    assert incoming.wait_for_new(5, poll=0.1) is True


BIG = b"%PDF-1.7\n" + bytes(range(256)) * (5 * 1024 * 1024 // 256)
# Just over the 3 MB a file may have inside a request: the smallest that takes the draft
# and upload-session path (parsing megabytes of MIME is most of these tests' time).
JUST_BIG = bytes(range(256)) * (3 * 1024 * 1024 // 256 + 4)


def _large_mail(world, message_id="<0123456789abcdef@contoso.test>", big=BIG):
    """An acceptance request carrying a large deliverable: over sendMail's 4 MB."""
    from daemon.mail.transport import Envelope

    message = EmailMessage()
    message["From"] = world.app.settings.mail.address
    message["To"] = world.address("zhang.wei")
    message["Subject"] = "[协作 v2-launch] 请验收 #1"
    message["Message-ID"] = message_id
    message.set_content("请验收附件中的成果物。")
    message.add_attachment(b"small note", maintype="text", subtype="plain", filename="说明.txt")
    message.add_attachment(big, maintype="application", subtype="pdf", filename="成果物.pdf")
    return Envelope(
        world.app.settings.mail.address,
        [world.address("zhang.wei")],
        message.as_bytes(),
        message_id,
    )


def test_a_mail_over_4_mb_goes_as_a_draft_with_its_large_files_uploaded(graph_world_):
    # sendMail takes at most 4 MB; an acceptance request carrying a 5 MB deliverable was
    # refused. Now: a draft from collabd's MIME without the large file, the file through an
    # upload session, then /send. Headers and Message-ID stay collabd's (exactly once is
    # proved by Sent Items as before).
    world = graph_world_
    tenant = world.server.tenant
    before = len(tenant.sent)
    world.app.transport.outgoing.send(_large_mail(world))
    (sent,) = tenant.sent[before:]
    got = sent.message
    assert got["Message-ID"] == "<0123456789abcdef@contoso.test>"
    assert got["Subject"] == "[协作 v2-launch] 请验收 #1"
    files = {p.get_filename(): p.get_content() for p in got.iter_attachments()}
    assert files == {"说明.txt": "small note", "成果物.pdf": BIG}
    assert tenant.upload_puts and all(put["auth"] is None for put in tenant.upload_puts)
    assert world.app.transport.outgoing.sent_copy_exists("<0123456789abcdef@contoso.test>")
    assert tenant.drafts == {} and tenant.in_folder("drafts") == []  # sent, not left behind


@pytest.mark.parametrize("refused", ["/send", "/attachments/createUploadSession"])
def test_a_large_mail_graph_refused_leaves_no_draft_and_goes_once_on_the_next_try(
    graph_world_, refused
):
    """The draft of a large mail whose upload or /send Graph refused is deleted at once: the
    collabd mailbox's Drafts does not fill up with copies while the outbox retries."""
    world = graph_world_
    tenant, outgoing = world.server.tenant, world.app.transport.outgoing
    tenant.fail_next(503, refused, method="POST", retry_after=600)
    with pytest.raises(TemporaryFailure) as raised:
        outgoing.send(_large_mail(world, big=JUST_BIG))
    assert raised.value.retry_after == 600
    assert tenant.in_folder("drafts") == []
    assert _copies(tenant, "<0123456789abcdef@contoso.test>") == 0
    assert len(tenant.in_folder("deleteditems")) == 1
    outgoing.send(_large_mail(world, big=JUST_BIG))  # the outbox's next try
    assert _copies(tenant, "<0123456789abcdef@contoso.test>") == 1
    assert tenant.in_folder("drafts") == []


def test_a_draft_an_interrupted_try_left_behind_is_removed_by_the_next(graph_world_):
    """The connection broke as /send went out (OutcomeUnknown): the draft stays, since Graph
    may be sending it. When the journal finds no copy after the grace and sends again, the
    old draft is deleted first: still one draft at most, and one mail sent."""
    from daemon.mail.transport import OutcomeUnknown

    world = graph_world_
    tenant, outgoing = world.server.tenant, world.app.transport.outgoing
    tenant.fail_next("reset", "/send", method="POST")
    with pytest.raises(OutcomeUnknown):
        outgoing.send(_large_mail(world, big=JUST_BIG))
    (left,) = tenant.in_folder("drafts")
    assert left.internet_message_id == "<0123456789abcdef@contoso.test>"
    assert not outgoing.sent_copy_exists("<0123456789abcdef@contoso.test>")
    outgoing.send(_large_mail(world, big=JUST_BIG))
    assert _copies(tenant, "<0123456789abcdef@contoso.test>") == 1
    assert tenant.in_folder("drafts") == []
    assert [m.id for m in tenant.in_folder("deleteditems")] == [left.id]


def _copies(tenant, message_id: str) -> int:
    return sum(1 for s in tenant.sent if s.message["Message-ID"] == message_id)
