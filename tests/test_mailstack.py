"""End-to-end smoke tests of the loopback mail stack, over real SMTP and IMAP."""

from __future__ import annotations

import email
import smtplib
import time
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from tests.mailstack import MailStack

CHINESE_SUBJECT = "周会纪要：请在周五前确认行动项"
CHINESE_BODY = "各位好，\n\n市场部与研发部的接口人已确定，请回复确认。\n谢谢！\n"


def _message(stack: MailStack, to: list[str], subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"王小明 <{stack.address('sender')}>"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(body)  # non-ASCII text goes out as 8bit UTF-8
    return msg


def _send(stack: MailStack, msg: EmailMessage) -> dict:
    with smtplib.SMTP(stack.host, stack.smtp_port, timeout=10) as smtp:
        return smtp.send_message(msg)


def _text(msg: EmailMessage) -> str:
    # IMAP hands messages over with CRLF line ends, as on the wire.
    return msg.get_content().replace("\r\n", "\n")


def _wait_until_queue_empty(stack: MailStack, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while (queued := stack.queued_message_ids()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return queued


def test_mail_reaches_both_mailboxes_intact_and_unread(mailstack: MailStack) -> None:
    recipients = [mailstack.address("smoke-bob"), mailstack.address("smoke-carol")]
    for address in recipients:
        mailstack.clear_mailbox(address)

    assert _send(mailstack, _message(mailstack, recipients, "plain ascii", "hello\n")) == {}
    assert _send(mailstack, _message(mailstack, recipients, CHINESE_SUBJECT, CHINESE_BODY)) == {}

    for address in recipients:
        raws = mailstack.wait_for_mail(address, count=2)
        assert len(raws) == 2
        parsed = [email.message_from_bytes(raw, policy=default_policy) for raw in raws]
        by_subject = {msg["Subject"]: msg for msg in parsed}
        assert set(by_subject) == {"plain ascii", CHINESE_SUBJECT}
        chinese = by_subject[CHINESE_SUBJECT]
        assert _text(chinese) == CHINESE_BODY
        assert chinese["From"].addresses[0].display_name == "王小明"
        assert _text(by_subject["plain ascii"]) == "hello\n"
        # Delivered by Dovecot into the Maildir we say it is in.
        assert any(mailstack.users_dir_for(address).glob("*/*,*"))


def test_peek_fetch_leaves_messages_unseen(mailstack: MailStack) -> None:
    address = mailstack.address("smoke-peek")
    mailstack.clear_mailbox(address)
    _send(mailstack, _message(mailstack, [address], CHINESE_SUBJECT, CHINESE_BODY))

    mailstack.wait_for_mail(address)

    client = mailstack.imap_login(address)
    try:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search("ALL"))
    finally:
        client.logout()
    assert len(flags) == 1
    assert all(b"\\Seen" not in f for f in flags.values())


def test_clear_mailbox_empties_inbox(mailstack: MailStack) -> None:
    address = mailstack.address("smoke-clear")
    _send(mailstack, _message(mailstack, [address], "to be deleted", "x\n"))
    mailstack.wait_for_mail(address)

    mailstack.clear_mailbox(address)

    client = mailstack.imap_login(address)
    try:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    finally:
        client.logout()


def test_outside_domain_alone_is_refused_at_rcpt(mailstack: MailStack) -> None:
    msg = _message(mailstack, ["someone@example.com"], "must not leave", "x\n")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(mailstack, msg)

    code, reply = refused.value.recipients["someone@example.com"]
    assert code == 554
    assert b"Relay access denied" in reply
    assert _wait_until_queue_empty(mailstack) == []


def test_mixed_recipients_only_local_one_is_delivered(mailstack: MailStack) -> None:
    local = mailstack.address("smoke-mixed")
    mailstack.clear_mailbox(local)
    msg = _message(mailstack, [local, "someone@example.com"], "mixed", "x\n")

    refused = _send(mailstack, msg)

    assert set(refused) == {"someone@example.com"}
    assert refused["someone@example.com"][0] == 554
    assert len(mailstack.wait_for_mail(local)) == 1
    assert _wait_until_queue_empty(mailstack) == []
    log = mailstack.postfix_log.read_text(errors="replace")
    assert "to=<someone@example.com>, relay=" not in log  # no delivery was ever tried
