"""Replies through the real mail stack: an owner answers collabd's mail from their mailbox,
collabd reads it over IMAP, applies it exactly once, files it, and answers in the thread.

Every test here also runs on the Exchange (EWS) and Microsoft Graph backends (`world` is
parametrized): there the mailbox is tests/ews_server.py, a loopback server answering
exchangelib's SOAP requests, or tests/graph_server.py, a loopback HTTPS server answering
Graph's REST calls, both with Microsoft-documented response shapes — protocol-level
fixtures, not live Exchange or Microsoft 365 servers."""

from __future__ import annotations

import email
import email.policy
import smtplib
import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select, text

from daemon.announce import start_collaboration
from daemon.inbound.ingest import MAX_ATTEMPTS, ingest_pass
from daemon.ledger.history import Origin
from daemon.ledger.people import import_people
from daemon.ledger.specs import load_collaboration_file
from daemon.mail.send import send_due
from daemon.store.models import (
    ActionItem,
    HistoryEntry,
    InboundMessage,
    InboundStatus,
    ItemStatus,
    OutboxMessage,
)
from tests.conftest import DEMO, START
from tests.test_mail_transport import imap_app


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


class World:
    """The demo's people and collaboration, with addresses at the test domain."""

    def __init__(self, app, mailstack, tmp_path, tag: str = "") -> None:
        # `tag`: the same people as another World's (a second ledger beside it).
        self.app, self.stack, self.tag = app, mailstack, tag or uuid.uuid4().hex[:6]
        people = tmp_path / "people.csv"
        people.write_text(self.localize((DEMO / "people.csv").read_text("utf-8")), "utf-8")
        collab = tmp_path / "collab.toml"
        collab.write_text(self.localize((DEMO / "collaboration.toml").read_text("utf-8")), "utf-8")
        with app.db.transaction() as session:
            import_people(session, people, Origin.system("test"), START)
            start_collaboration(
                session, app, load_collaboration_file(collab), Origin.system("test")
            )
        # kickoffs, assignments, and 王强's as 协作人 of #3
        assert len(send_due(app.db, app.transport.outgoing, app.clock).sent) == 10

    def localize(self, text_: str) -> str:
        return text_.replace("@example.com", f"-{self.tag}@{self.stack.domain}")

    def address(self, local: str) -> str:
        return f"{local}-{self.tag}@{self.stack.domain}"

    def received(
        self, local: str, subject_part: str = "", in_reply_to: str = "", timeout: float = 10
    ) -> EmailMessage:
        """A mail in the person's INBOX (by subject, or by the mail it answers), once Dovecot
        shows it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for raw in self.stack.wait_for_mail(self.address(local), count=1):
                message = parse(raw)
                if in_reply_to and message["In-Reply-To"] == in_reply_to:
                    return message
                if not in_reply_to and subject_part in message["Subject"]:
                    return message
            time.sleep(0.1)
        raise AssertionError(f"{local} has no mail {subject_part or in_reply_to!r}")

    def reply(self, to: EmailMessage, body: str, sender: str, **headers: str) -> EmailMessage:
        """A reply as a mail client writes it: quoted original below the typed text."""
        reply = EmailMessage()
        reply["From"] = sender
        reply["To"] = to["Reply-To"]
        reply["Subject"] = "回复：" + to["Subject"]
        reply["Message-ID"] = make_msgid(domain=self.stack.domain)
        reply["In-Reply-To"] = to["Message-ID"]
        reply["References"] = to["Message-ID"]
        reply["Date"] = "Mon, 30 Nov 2026 10:00:00 +0800"
        for name, value in headers.items():
            reply[name.replace("_", "-")] = value
        quoted = "\n".join(
            "> " + line for line in to.get_body(("plain",)).get_content().splitlines()
        )
        reply.set_content(f"{body}\n\n在 2026年11月23日 09:06，collabd 写道：\n{quoted}\n")
        return reply

    def deliver(self, message: EmailMessage, wait: bool = True) -> None:
        before = len(self.inbox_uids())
        with smtplib.SMTP(self.stack.host, self.stack.smtp_port) as smtp:
            smtp.send_message(message)
        if wait:  # until Dovecot shows it, so a pass run right after sees it
            self.stack.wait_for_mail(self.app.settings.mail.address, count=before + 1)

    def inbox_uids(self) -> list[int]:
        with self.stack.imap_login(self.app.settings.mail.address) as client:
            client.select_folder("INBOX", readonly=True)
            return client.search("ALL")

    def ingest(self):
        return ingest_pass(self.app, self.app.transport.incoming)

    def item(self, number: int) -> ActionItem:
        with self.app.db.transaction() as session:
            return session.scalar(select(ActionItem).where(ActionItem.number == number))

    def history_from(self, message_id: str) -> list[HistoryEntry]:
        with self.app.db.transaction() as session:
            return list(
                session.scalars(select(HistoryEntry).where(HistoryEntry.source == message_id))
            )

    def answers(self) -> list[OutboxMessage]:
        with self.app.db.transaction() as session:
            return list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.kind == "reply_answer")
                    .order_by(OutboxMessage.id)
                )
            )

    def quarantined(self) -> int:
        quarantine = self.app.transport.incoming.server_name("collabd/quarantine")
        with self.stack.imap_login(self.app.settings.mail.address) as client:
            return client.select_folder(quarantine, readonly=True)[b"EXISTS"]


class RecordedWorld(World):
    """The World on a Microsoft fixture server (EWS, Graph) instead of the mail stack: what
    collabd sent is read from the server's record (`sent_mails`: MIME and recipients), and
    people's mail is dropped into the collabd mailbox's Inbox."""

    domain = "example.test"

    def __init__(self, app, server, tmp_path) -> None:
        self.server = server
        super().__init__(app, _Domain(self.domain), tmp_path)

    def sent_mails(self) -> list[tuple[bytes, list[str]]]:
        raise NotImplementedError

    def received(self, local, subject_part="", in_reply_to="", timeout=10) -> EmailMessage:
        for mime, recipients in reversed(self.sent_mails()):
            message = parse(mime)
            if self.address(local) not in recipients:
                continue
            if in_reply_to and message["In-Reply-To"] == in_reply_to:
                return message
            if not in_reply_to and subject_part in message["Subject"]:
                return message
        raise AssertionError(f"{local} was sent no mail {subject_part or in_reply_to!r}")


class _Domain:  # what World needs of a mail stack: the domain people's addresses are at
    def __init__(self, domain: str) -> None:
        self.domain = domain


@pytest.fixture(params=["imap", "ews", "graph"])
def world(request, tmp_path, db_url):
    if request.param == "ews":  # the same scenarios on Exchange Web Services
        from tests.test_ingest_ews import ews_world

        yield from ews_world(request, tmp_path, db_url)
        return
    if request.param == "graph":  # and on Microsoft Graph (Exchange Online)
        from tests.test_ingest_graph import graph_world

        yield from graph_world(request, tmp_path, db_url)
        return
    yield from _imap_world(request, tmp_path, db_url)


@pytest.fixture
def imap_world(request, tmp_path, db_url):
    """The IMAP + SMTP world only: for what only a real SMTP server does (refusing a domain)."""
    yield from _imap_world(request, tmp_path, db_url)


def _imap_world(request, tmp_path, db_url):
    mailstack = request.getfixturevalue("mailstack")
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    app = imap_app(tmp_path, db_url, address, mailstack.smtp_port, mailstack.imap_port)
    yield World(app, mailstack, tmp_path)
    app.close()


def test_reply_is_applied_once_answered_in_thread_and_filed(world):
    assignment = world.received("li.na", "您负责的行动项")
    reply = world.reply(assignment, "#1 完成\n#9 完成\n#1 阻赛", world.address("li.na"))
    world.deliver(reply)

    report = world.ingest()
    assert (report.applied, report.failed) == (1, 0)
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.DONE, 100)
    history = world.history_from(reply["Message-ID"])
    # (the field changes; `#1 完成` also records the acceptance request, see test_closing.py)
    changed = {(h.field, h.new_value) for h in history if h.field}
    assert changed == {("status", "done"), ("progress", "100")}
    assert all(h.actor == world.address("li.na") for h in history)
    assert world.inbox_uids() == []  # filed into the processed folder after the commit

    # the answer, and the acceptance request `#1 完成` sends the receiver (test_closing.py)
    assert len(send_due(world.app.db, world.app.transport.outgoing, world.app.clock).sent) == 2
    answer = world.received("li.na", in_reply_to=reply["Message-ID"])
    assert answer["Subject"] == reply["Subject"]
    body = answer.get_body(("plain",)).get_content()
    assert "#1 → 已完成 ✓" in body
    assert "#9：本协作没有这个行动项" in body
    assert "#1：无法识别“阻赛”" in body

    world.deliver(reply)  # the same mail delivered a second time
    report = world.ingest()
    assert (report.duplicates, report.applied) == (1, 0)
    assert len(world.history_from(reply["Message-ID"])) == len(history)
    assert len(world.answers()) == 1
    assert world.inbox_uids() == []


def test_a_mail_delivered_twice_into_one_batch_is_applied_once(world):
    # Both copies arrive before collabd looks: they are read in the same batch, and the
    # second must be seen as a duplicate of a row the batch itself has just written.
    reply = world.reply(
        world.received("li.na", "您负责的行动项"), "#1 进行中 30%", world.address("li.na")
    )
    world.deliver(reply)
    world.deliver(reply)
    report = world.ingest()
    assert (report.applied, report.duplicates) == (1, 1)
    assert {(h.field, h.new_value) for h in world.history_from(reply["Message-ID"])} == {
        ("status", "in_progress"),
        ("progress", "30"),
    }
    assert len(world.answers()) == 1
    assert world.inbox_uids() == []


def test_progress_and_bare_reply_to_a_single_item_mail(world):
    assignment = world.received("zhao.min", "您负责的行动项")
    world.deliver(world.reply(assignment, "进行中 40%", world.address("zhao.min")))
    assert world.ingest().applied == 1
    item = world.item(3)
    assert (item.status, item.progress) == (ItemStatus.IN_PROGRESS, 40)


def test_forged_sender_changes_nothing_and_is_told(world):
    assignment = world.received("li.na", "您负责的行动项")
    # 王强 is in the ledger but has nothing to do with #1; he cannot use 李娜's thread.
    world.deliver(world.reply(assignment, "#1 完成", world.address("wang.qiang")))
    report = world.ingest()
    assert (report.applied, report.ignored) == (0, 1)
    assert world.item(1).status is ItemStatus.NOT_STARTED
    (answer,) = world.answers()
    assert answer.recipients == world.address("wang.qiang")
    assert "未做任何更改" in parse(answer.raw).get_body(("plain",)).get_content()


def test_out_of_office_is_logged_and_never_answered(world):
    assignment = world.received("li.na", "您负责的行动项")
    auto = world.reply(
        assignment,
        "我正在休假，12月7日返回。#1 完成",
        world.address("li.na"),
        Auto_Submitted="auto-replied",
    )
    auto.replace_header("Subject", "自动回复: " + assignment["Subject"])
    world.deliver(auto)
    report = world.ingest()
    assert (report.applied, report.ignored) == (0, 1)
    assert world.item(1).status is ItemStatus.NOT_STARTED
    assert world.answers() == []
    with world.app.db.transaction() as session:
        row = session.scalar(select(InboundMessage))
        assert row.status is InboundStatus.IGNORED and "automatic reply" in row.detail


def test_a_mail_that_keeps_failing_is_quarantined_and_does_not_block_others(world):
    assignment = world.received("li.na", "您负责的行动项")
    poison = world.reply(assignment, "#1 完成", world.address("li.na"))
    good = world.reply(
        world.received("zhang.wei", "您负责的行动项"), "#2 进行中 10%", world.address("zhang.wei")
    )
    _reject_inserts(world.app, "history", "source", poison["Message-ID"])
    world.deliver(poison)
    world.deliver(good)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = world.ingest()
        if attempt < MAX_ATTEMPTS:
            assert report.failed == 1
    assert report.quarantined == 1
    assert world.item(1).status is ItemStatus.NOT_STARTED
    assert world.item(2).progress == 10  # applied on the first pass, not blocked
    assert world.inbox_uids() == []
    with world.app.db.transaction() as session:
        row = session.scalar(
            select(InboundMessage).where(InboundMessage.message_id == poison["Message-ID"])
        )
        assert (row.status, row.attempts) == (InboundStatus.QUARANTINED, MAX_ATTEMPTS)
        assert "poisoned" in row.detail
    assert world.quarantined() == 1


def test_a_mail_rolled_back_mid_batch_leaves_no_trace_for_the_next_one(imap_world):
    # The first reply changes #1 and then fails (its answer cannot be queued); the second,
    # in the same batch, must see #1 as the database has it, not as the failed one left it.
    world = imap_world
    assignment = world.received("li.na", "您负责的行动项")
    failing = world.reply(assignment, "#1 完成", world.address("li.na"))
    following = world.reply(assignment, "#1 进行中 50%", world.address("li.na"))
    _reject_inserts(world.app, "outbox", "dedupe_key", f"answer:{failing['Message-ID']}")
    world.deliver(failing)
    world.deliver(following)

    report = world.ingest()
    assert (report.failed, report.applied) == (1, 1)
    item = world.item(1)
    assert (item.status, item.progress) == (ItemStatus.IN_PROGRESS, 50)
    assert world.history_from(failing["Message-ID"]) == []
    changes = {
        h.field: (h.old_value, h.new_value) for h in world.history_from(following["Message-ID"])
    }
    assert changes == {"status": ("not_started", "in_progress"), "progress": ("0", "50")}


def _reject_inserts(app, table: str, column: str, value: str) -> None:
    """A real database error for one mail: a trigger refuses rows with `column = value`."""
    name = f"poison_{table}"
    with app.db.engine.begin() as connection:
        if app.db.dialect == "sqlite":
            connection.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                    f"WHEN NEW.{column} = '{value}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
                )
            )
        else:
            connection.execute(
                text(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "RAISE EXCEPTION 'poisoned'; END $$"
                )
            )
            connection.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
                    f"WHEN (NEW.{column} = '{value}') EXECUTE FUNCTION {name}()"
                )
            )


def test_watcher_applies_a_reply_within_seconds_of_delivery(world):
    import threading

    from daemon.inbound.watcher import MailboxWatcher

    stop = threading.Event()
    watcher = MailboxWatcher(world.app, world.app.transport.incoming, stop)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        assignment = world.received("li.na", "您负责的行动项")
        while watcher.last_sync is None:  # the first full rescan has run; now it idles
            time.sleep(0.05)
        reply = world.reply(assignment, "#1 进行中 30%", world.address("li.na"))
        world.deliver(reply, wait=False)  # the watcher may file it before we could look
        deadline = time.monotonic() + 10  # Dovecot announces new mail 0.5 s after delivery
        while world.item(1).progress != 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert world.item(1).progress == 30
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()  # stops promptly when asked
