"""Mail out and mail in through the transports: the local maildir, and the real loopback
Postfix + Dovecot (see tests/mailstack.py; nothing here leaves the machine)."""

from __future__ import annotations

import email
import email.policy
import smtplib
import time
import uuid
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.ledger.history import Origin
from daemon.ledger.people import import_people
from daemon.mail.outbox import enqueue
from daemon.mail.send import send_due
from daemon.mail.transport import ImapMailbox, MaildirTransport, Outcome
from daemon.store.models import OutboxMessage, OutboxStatus, Person
from tests.conftest import START


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def add_person(app: App, tmp_path, name: str, address: str, locale: str = "zh-CN") -> None:
    csv = tmp_path / f"{uuid.uuid4().hex}.csv"
    csv.write_text(
        f"name,email,department,locale\n{name},{address},研发中心,{locale}\n", encoding="utf-8"
    )
    with app.db.transaction() as session:
        import_people(session, csv, Origin.system("test"), START)


def queue_test_mail(app: App, address: str, key: str) -> bool:
    with app.db.transaction() as session:
        person = session.scalar(select(Person).where(Person.email == address))
        return enqueue(
            session,
            renderer=app.renderer,
            identity=app.identity,
            now=app.clock.now(),
            kind="items_assigned",
            dedupe_key=key,
            to=person,
            context={"collab": _Collab(), "items": [_Item()]},
        )


class _Collab:  # the smallest thing the template needs; the ledger is tested elsewhere
    code, theme = "t1", "传输测试 transport test"


class _Item:
    number, description, done_criteria, deadline = 7, "检查邮件往返", "收到即可", None
    collaborators, support_needed, depends_on, progress = [], "", [], 0

    @property
    def priority(self):
        from daemon.store.models import Priority

        return Priority.HIGH

    @property
    def status(self):
        from daemon.store.models import ItemStatus

        return ItemStatus.NOT_STARTED


def rows(app: App) -> list[OutboxMessage]:
    with app.db.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# --- the embedded maildir transport -------------------------------------------------------


def test_outbox_delivers_into_recipient_maildir_once(app, tmp_path):
    add_person(app, tmp_path, "张伟", "zw@example.com")
    assert queue_test_mail(app, "zw@example.com", "k1") is True
    assert queue_test_mail(app, "zw@example.com", "k1") is False  # same dedupe key: no 2nd row
    report = send_due(app.db, app.transport.outgoing, app.clock)
    assert len(report.sent) == 1
    assert send_due(app.db, app.transport.outgoing, app.clock).sent == []  # nothing twice
    maildir = app.settings.maildir_root / "zw@example.com" / "new"
    (delivered,) = list(maildir.iterdir())
    message = parse(delivered.read_bytes())
    assert message["Subject"] == "[协作 t1] 您负责的行动项：#7"
    assert message["Message-ID"] == rows(app)[0].message_id
    assert rows(app)[0].status is OutboxStatus.SENT


def test_maildir_inbox_is_read_and_filed_after_ack(tmp_path):
    transport = MaildirTransport(tmp_path / "maildir", "collabd@example.com")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "a@example.com",
        "collabd@example.com",
        "#1 完成",
    )
    message.set_content("#1 完成")
    transport.deliver("collabd@example.com", message.as_bytes())
    (incoming,) = list(transport.fetch())
    assert parse(incoming.raw)["Subject"] == "#1 完成"
    transport.ack(incoming, Outcome.PROCESSED)
    transport.ack(incoming, Outcome.PROCESSED)  # a second ack after a crash is harmless
    assert list(transport.fetch()) == []
    (filed,) = (transport.inbox / ".processed" / "cur").iterdir()
    assert filed.read_bytes() == message.as_bytes()


# --- the real mail stack ------------------------------------------------------------------


def imap_app(tmp_path, db_url, address: str, smtp_port: int, imap_port: int, **mail) -> App:
    """An App on the imap backend (SMTP out, IMAP in) against loopback ports; `mail`: more
    [mail] settings (answers_per_hour …)."""
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / f"data-{smtp_port}")},
            "store": {"url": db_url},
            "mail": {
                "backend": "imap",
                "address": address,
                "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"},
                "imap": {
                    "host": "127.0.0.1",
                    "port": imap_port,
                    "security": "none",
                    "password": "secret",
                },
                **mail,
            },
        },
        "test",
    )
    return App(settings, clock=FixedClock(START))


@pytest.fixture
def stack_app(mailstack, tmp_path, db_url):
    address = mailstack.address(f"collabd-{uuid.uuid4().hex[:8]}")
    application = imap_app(tmp_path, db_url, address, mailstack.smtp_port, mailstack.imap_port)
    yield application
    application.close()


def test_collabd_sends_through_postfix_and_it_lands_in_dovecot(stack_app, mailstack, tmp_path):
    owner = mailstack.address(f"owner-{uuid.uuid4().hex[:8]}")
    add_person(stack_app, tmp_path, "李娜", owner)
    queue_test_mail(stack_app, owner, f"e2e:{owner}")
    report = send_due(stack_app.db, stack_app.transport.outgoing, stack_app.clock)
    assert len(report.sent) == 1, report
    (raw,) = mailstack.wait_for_mail(owner)
    message = parse(raw)
    assert message["Subject"] == "[协作 t1] 您负责的行动项：#7"
    assert message["Message-ID"] == rows(stack_app)[0].message_id
    assert "#7 检查邮件往返" in message.get_body(("plain",)).get_content()


def test_collabd_reads_its_mailbox_without_marking_seen_and_files_after_ack(stack_app, mailstack):
    collabd = stack_app.settings.mail.address
    mailstack.clear_mailbox(collabd)
    reply = EmailMessage()
    reply["From"], reply["To"] = mailstack.address("li.na"), collabd
    reply["Subject"], reply["Message-ID"] = "回复：#1", f"<{uuid.uuid4().hex}@collabd.test>"
    reply.set_content("#1 完成\n")
    with smtplib.SMTP(mailstack.host, mailstack.smtp_port) as smtp:
        smtp.send_message(reply)
    mailstack.wait_for_mail(collabd)

    incoming_side = stack_app.transport.incoming
    assert isinstance(incoming_side, ImapMailbox)
    (mail,) = list(incoming_side.fetch())
    assert parse(mail.raw)["Message-ID"] == reply["Message-ID"]
    assert mail.uidvalidity and mail.uid
    with mailstack.imap_login(collabd) as client:  # fetched, yet still unread for a person
        client.select_folder("INBOX", readonly=True)
        assert b"\\Seen" not in client.get_flags([mail.uid])[mail.uid]
    incoming_side.ack(mail, Outcome.PROCESSED)
    assert list(incoming_side.fetch()) == []
    with mailstack.imap_login(collabd) as client:
        processed = incoming_side.server_name("collabd/processed")
        assert client.select_folder(processed, readonly=True)[b"EXISTS"] == 1


def test_mail_delivered_during_a_pass_wakes_the_watcher_at_once(stack_app, mailstack):
    """IDLE announces only mail that arrives while idling. A mail delivered while the
    watcher was busy with a pass must not wait for the 5-minute rescan."""
    collabd = stack_app.settings.mail.address
    mailstack.clear_mailbox(collabd)
    mailbox = stack_app.transport.incoming
    assert list(mailbox.fetch()) == []  # a pass over the empty inbox has begun and ended
    late = EmailMessage()
    late["From"], late["To"], late["Subject"] = mailstack.address("li.na"), collabd, "#1 完成"
    late.set_content("#1 完成\n")
    with smtplib.SMTP(mailstack.host, mailstack.smtp_port) as smtp:
        smtp.send_message(late)
    mailstack.wait_for_mail(collabd)  # delivered before the watcher goes back to IDLE
    started = time.monotonic()
    assert mailbox.wait_for_new(timeout=20) is True
    assert time.monotonic() - started < 2  # not after IDLE's timeout
    assert len(list(mailbox.fetch())) == 1
    assert mailbox.wait_for_new(timeout=1) is False  # nothing newer: IDLE runs its course


def test_smtp_outage_defers_mail_and_keeps_it(app, tmp_path, db_url):
    down = imap_app(tmp_path, db_url, "collabd@collabd.test", smtp_port=9, imap_port=9)
    add_person(down, tmp_path, "王强", "wq@collabd.test")
    queue_test_mail(down, "wq@collabd.test", "outage")
    report = send_due(down.db, down.transport.outgoing, down.clock)
    assert report.sent == [] and len(report.deferred) == 1
    (row,) = rows(down)
    assert row.status is OutboxStatus.PENDING and row.attempts == 1
    assert row.not_before > START and row.claimed_by is None and "9" in row.last_error
    down.close()
