"""The Maildir transport on a real file system: delivery order kept within a second, whoever
delivered; mail filed by rename (bytes and flags kept); a mail that cannot be filed is
logged and skipped while the rest of the batch is filed."""

from __future__ import annotations

import logging
import mailbox
import os

from daemon.mail.transport import MaildirTransport, Outcome
from daemon.mail.transport.maildir_names import delivery_order

OWN = "collabd@example.com"
ONE_SECOND_NS = 1_795_000_000 * 1_000_000_000  # a fixed second: every delivery shares it


def mail(n: int) -> bytes:
    return (
        f"From: li.na@example.com\r\nTo: {OWN}\r\nSubject: step {n}\r\n"
        f"Message-ID: <step-{n}@example.com>\r\n\r\n#1 进行中：step {n}\r\n"
    ).encode()


def subjects(transport: MaildirTransport) -> list[str]:
    return [m.raw.split(b"\r\n")[2].decode() for m in transport.fetch()]


def test_2000_mails_delivered_in_one_second_are_read_in_delivery_order(tmp_path):
    # collabd's own deliveries with the clock standing still: same second, same microsecond.
    transport = MaildirTransport(tmp_path, OWN, clock_ns=lambda: ONE_SECOND_NS)
    for n in range(2000):
        transport.deliver(OWN, mail(n))
    names = sorted(os.listdir(transport.inbox / "new"))
    assert len({name.split(".")[0] for name in names}) == 1  # truly one second
    assert subjects(transport) == [f"Subject: step {n}" for n in range(2000)]


def test_mail_another_deliverer_put_there_is_read_in_its_delivery_order(tmp_path):
    # Python's mailbox (like Dovecot) writes unpadded microseconds: "M95" after "M123456"
    # as text. 2,000 deliveries take well under a second here, so most share one.
    transport = MaildirTransport(tmp_path, OWN)
    foreign = mailbox.Maildir(transport.inbox, create=True)
    for n in range(2000):
        foreign.add(mail(n))
    # Whether text order is wrong here depends on where the microseconds fall (M99999 before
    # M100000): the hand-made names below make sure it is, whatever the machine's speed.
    later = 1 + max(int(name.split(".")[0]) for name in os.listdir(transport.inbox / "new"))
    for n, micro in ((2000, 95), (2001, 123456)):
        (transport.inbox / "new" / f"{later}.M{micro}P1Q{n}.vm").write_bytes(mail(n))
    names = os.listdir(transport.inbox / "new")
    assert sorted(names) != sorted(names, key=delivery_order)  # text order would be wrong
    assert subjects(transport) == [f"Subject: step {n}" for n in range(2002)]


def test_names_from_postfix_dovecot_and_by_hand_order_by_their_numbers():
    names = [
        "1795000001.M5P10.host",  # Dovecot: 1 s + 5 µs
        "1795000000.V801I33M999999.mail.example.com",  # Postfix: 0 s + 999,999 µs
        "1795000000.M95P10Q2.host:2,S",  # Python's mailbox, seen (in cur/)
        "1795000000.M95P10Q1.host",
        "1795000000.M123456P10Q3.host",
        "copied-by-hand.eml",
    ]
    assert sorted(names, key=delivery_order) == [
        "copied-by-hand.eml",
        "1795000000.M95P10Q1.host",
        "1795000000.M95P10Q2.host:2,S",
        "1795000000.M123456P10Q3.host",
        "1795000000.V801I33M999999.mail.example.com",
        "1795000001.M5P10.host",
    ]


def test_filing_renames_the_file_keeping_bytes_and_flags(tmp_path):
    transport = MaildirTransport(tmp_path, OWN)
    # Not MIME a serializer could write back: a multipart without a boundary, 8-bit body.
    poison = (
        b"From: li.na@example.com\r\nSubject: =?broken\r\nContent-Type: multipart/mixed\r\n"
        b"\r\n\xe5\xae\x8c\xe6\x88\x90 \xff\xfe raw 8-bit\r\n"
    )
    delivered = transport.deliver(OWN, poison)
    read_by_person = transport.inbox / "cur" / "1795000000.M1P1Q1.host:2,FS"
    read_by_person.write_bytes(mail(1))  # a mail client moved it to cur/, seen + flagged
    first, second = list(transport.fetch())
    transport.ack_many([first, second], Outcome.QUARANTINED)
    filed = transport.inbox / ".quarantine" / "cur"
    assert (filed / (delivered.name + ":2,")).read_bytes() == poison
    assert (filed / read_by_person.name).read_bytes() == mail(1)
    assert (transport.inbox / ".quarantine" / "maildirfolder").exists()  # Maildir++ folder
    assert list(transport.fetch()) == []


def test_a_mail_that_cannot_be_filed_is_logged_and_the_rest_are_filed(tmp_path, caplog):
    transport = MaildirTransport(tmp_path, OWN, clock_ns=lambda: ONE_SECOND_NS)
    for n in range(3):
        transport.deliver(OWN, mail(n))
    mails = list(transport.fetch())
    # Something already sits where the middle mail would go: its rename must fail.
    blocker = transport.inbox / ".processed" / "cur" / (mails[1].key.split("/")[1] + ":2,")
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("not empty")
    with caplog.at_level(logging.ERROR):
        transport.ack_many(mails, Outcome.PROCESSED)
    assert "cannot file" in caplog.text and mails[1].key.split("/")[1] in caplog.text
    assert [m.key for m in transport.fetch()] == [mails[1].key]  # only it stays
    filed = sorted(os.listdir(transport.inbox / ".processed" / "cur"))
    assert len(filed) == 3  # the two mails and the blocker


def test_a_filing_folder_removed_while_running_is_made_again(tmp_path):
    transport = MaildirTransport(tmp_path, OWN)
    transport.deliver(OWN, mail(1))
    (first,) = transport.fetch()
    transport.ack(first, Outcome.PROCESSED)
    for path in sorted((transport.inbox / ".processed").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (transport.inbox / ".processed").rmdir()
    transport.deliver(OWN, mail(2))
    (second,) = transport.fetch()
    transport.ack(second, Outcome.PROCESSED)
    assert list(transport.fetch()) == []
    assert len(os.listdir(transport.inbox / ".processed" / "cur")) == 1
