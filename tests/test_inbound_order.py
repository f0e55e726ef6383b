"""Mail is applied in delivery order, a late reply does not overwrite a newer one, and
poison mail never stops a pass: on the Maildir
transport (real files, mail delivered within one second) and on IMAP (the real Dovecot,
UID order), each on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from daemon.announce import start_collaboration
from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.inbound.ingest import ingest_pass
from daemon.ledger.history import Origin
from daemon.ledger.people import import_people
from daemon.ledger.specs import load_collaboration_file
from daemon.mail.send import send_due
from daemon.mail.transport import MaildirTransport
from daemon.store.models import (
    ActionItem,
    HistoryEntry,
    InboundMessage,
    InboundStatus,
    ItemStatus,
    OutboxMessage,
)
from tests.conftest import DEMO, START
from tests.test_ingest import World
from tests.test_mail_transport import imap_app

ONE_SECOND_NS = 1_795_000_000 * 1_000_000_000
WRITTEN = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


class MaildirWorld:
    """The demo's ledger on the Maildir transport: people's mail lands in their own Maildir
    under the data directory; replies are delivered into collabd's, all within one second."""

    domain = "example.com"

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        settings = validate(
            {
                "daemon": {"data_dir": str(tmp_path / "data")},
                "store": {"url": db_url},
                "mail": {"address": "collabd@example.com"},
            },
            "test",
        )
        self.app = App(settings, clock=FixedClock(START))
        with self.app.db.transaction() as session:
            import_people(session, DEMO / "people.csv", Origin.system("test"), START)
            start_collaboration(
                session,
                self.app,
                load_collaboration_file(DEMO / "collaboration.toml"),
                Origin.system("test"),
            )
        send_due(self.app.db, self.app.transport.outgoing, self.app.clock)
        self.delivery = MaildirTransport(
            settings.maildir_root, settings.mail.address, clock_ns=lambda: ONE_SECOND_NS
        )

    def address(self, local: str) -> str:
        return f"{local}@{self.domain}"

    def received(self, local: str, subject_part: str) -> EmailMessage:
        folder = self.app.settings.maildir_root / self.address(local) / "new"
        mails = [parse(path.read_bytes()) for path in sorted(folder.iterdir())]
        return next(m for m in mails if subject_part in m["Subject"])

    def deliver_all(self, mails: list[bytes]) -> None:
        for raw in mails:
            self.delivery.deliver(self.app.settings.mail.address, raw)

    def left_in_inbox(self) -> int:
        return len(self.delivery.pending())

    def close(self) -> None:
        self.app.close()


class ImapWorld(World):
    """The same on the real Dovecot. Mail is put in with APPEND, one after another: each
    gets the next UID, so delivery order is known exactly."""

    domain = ""

    def deliver_all(self, mails: list[bytes]) -> None:
        with self.stack.imap_login(self.app.settings.mail.address) as client:
            for raw in mails:
                client.append("INBOX", raw)

    def left_in_inbox(self) -> int:
        return len(self.inbox_uids())

    def close(self) -> None:
        self.app.close()


def make_world(request, tmp_path, db_url) -> MaildirWorld | ImapWorld:
    """The demo's world on `request.param`: "maildir" or "imap" (the real Dovecot)."""
    if request.param == "maildir":
        return MaildirWorld(tmp_path, db_url)
    stack = request.getfixturevalue("mailstack")
    address = stack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    return ImapWorld(
        imap_app(tmp_path, db_url, address, stack.smtp_port, stack.imap_port), stack, tmp_path
    )


@pytest.fixture(params=["maildir", "imap"])
def world(request, tmp_path, db_url):
    made = make_world(request, tmp_path, db_url)
    yield made
    made.close()


def reply(world, to: EmailMessage, body: str, written: int, references: str = "") -> bytes:
    """li.na's reply, written `written` seconds after 10:00 on 30 November (Shanghai)."""
    message = EmailMessage()
    message["From"] = world.address("li.na")
    message["To"] = to["Reply-To"]
    message["Subject"] = "回复：" + to["Subject"]
    message["Message-ID"] = make_msgid(domain="example.com")
    message["In-Reply-To"] = to["Message-ID"]
    message["References"] = references or to["Message-ID"]
    message["Date"] = format_datetime(WRITTEN + timedelta(seconds=written))
    message.set_content(body)
    return message.as_bytes()


def notes_in_history(app: App) -> list[str]:
    with app.db.transaction() as session:
        item = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        return list(
            session.scalars(
                select(HistoryEntry.new_value)
                .where(
                    HistoryEntry.entity == "item",
                    HistoryEntry.entity_id == item.id,
                    HistoryEntry.field == "note",
                )
                .order_by(HistoryEntry.id)
            )
        )


def test_replies_are_applied_in_delivery_order(world):
    count = 2000 if isinstance(world, MaildirWorld) else 300
    assignment = world.received("li.na", "您负责的行动项")
    world.deliver_all(
        [reply(world, assignment, f"#1 阻塞：step {n:04d}", written=n) for n in range(count)]
    )
    report = ingest_pass(world.app, world.app.transport.incoming)
    assert report.applied == count
    assert notes_in_history(world.app) == [f"step {n:04d}" for n in range(count)]
    assert world.left_in_inbox() == 0


def poison_mails(world, assignment: EmailMessage) -> dict[str, bytes]:
    sender, to = world.address("li.na"), assignment["Reply-To"]
    head = f"From: {sender}\r\nTo: {to}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0800\r\n"
    nested = [head.encode(), b"Subject: deep\r\nMessage-ID: <deep@example.com>\r\n"]
    for depth in range(1000):
        nested.append(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (depth, depth)
        )
    nested.append("Content-Type: text/plain\r\n\r\n#1 完成\r\n".encode())
    nested += [b"--b%d--\r\n" % depth for depth in reversed(range(1000))]
    references = " ".join(f"<ref-{n}@example.com>" for n in range(10_000))
    return {
        "no boundary, 8-bit": (
            head + "Subject: =?broken\r\nMessage-ID: <noboundary@example.com>\r\n"
            "Content-Type: multipart/mixed\r\n\r\n"
        ).encode()
        + "#1 完成 \udcff".encode("utf-8", "surrogateescape")
        + b"\xfe\xff raw 8-bit\r\n",
        "1,000-deep nesting": b"".join(nested),
        "10,000-id References": reply(
            world,
            assignment,
            "#1 进行中 60%",
            written=5,
            references=f"{references} {assignment['Message-ID']}",
        ),
    }


def test_poison_mails_are_filed_and_the_mail_around_them_applied(world):
    assignment = world.received("li.na", "您负责的行动项")
    poison = poison_mails(world, assignment)
    before = reply(world, assignment, "#1 阻塞：before the poison", written=1)
    after = reply(world, assignment, "#1 阻塞：after the poison", written=9)
    world.deliver_all([before, *poison.values(), after])
    report = ingest_pass(world.app, world.app.transport.incoming)
    assert report.handled == 5 and report.failed == 0
    assert world.left_in_inbox() == 0  # every one filed: none blocks the next pass
    notes = notes_in_history(world.app)
    assert notes[0] == "before the poison" and notes[-1] == "after the poison"
    with world.app.db.transaction() as session:
        statuses = [row.status for row in session.execute(select(InboundMessage.status))]
        item = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        progress_history = session.scalars(
            select(HistoryEntry.new_value).where(
                HistoryEntry.entity_id == item.id, HistoryEntry.field == "progress"
            )
        ).all()
    assert "60" in progress_history  # the 10,000-id References reply was read and applied
    # No parser reads a 1,000-deep multipart: it is quarantined at once, not retried.
    assert statuses.count(InboundStatus.QUARANTINED) == report.quarantined == 1
    second = ingest_pass(world.app, world.app.transport.incoming)
    assert second.handled == 0 and second.failed == 0


def test_a_late_reply_does_not_overwrite_a_newer_one_and_is_told(world):
    assignment = world.received("li.na", "您负责的行动项")
    newer = reply(world, assignment, "#1 阻塞：等待设计评审", written=300)  # 10:05
    late = reply(world, assignment, "#1 进行中 30%：初稿", written=0)  # 10:00, arrives last
    world.deliver_all([newer, late])
    report = ingest_pass(world.app, world.app.transport.incoming)
    assert (report.applied, report.ignored) == (1, 1)
    late_id = parse(late)["Message-ID"]
    with world.app.db.transaction() as session:
        item = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        assert (item.status, item.progress, item.note) == (ItemStatus.BLOCKED, 0, "等待设计评审")
        superseded = session.execute(
            select(HistoryEntry.field, HistoryEntry.new_value).where(
                HistoryEntry.source == late_id, HistoryEntry.action == "superseded"
            )
        ).all()
        answer = session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"answer:{late_id}")
        )
    assert sorted(superseded) == [("note", "初稿"), ("progress", "30"), ("status", "in_progress")]
    text = parse(answer.raw).get_body(("plain",)).get_content()
    assert "#1：未更改——您这封邮件写于 2026-11-30 10:00" in text
    assert "（2026-11-30 10:05）已更新了此项，以较新的为准" in text
    html = parse(answer.raw).get_body(("html",)).get_content()
    assert "以较新的为准" in html
