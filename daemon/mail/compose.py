"""Turning a rendered mail into RFC 5322 bytes with the headers collabd always sets."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from .render import RenderedMail

# Our own mails say so: auto-responders stay quiet (RFC 3834) and collabd drops a mail that
# carries its own loop header instead of answering itself.
LOOP_HEADER = "X-Collabd-Loop"


def compose(
    mail: RenderedMail,
    *,
    sender_name: str,
    sender_address: str,
    to: list[tuple[str, str]],
    message_id: str,
    date: datetime,
    kind: str,
    reply_to: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((sender_name, sender_address))
    message["To"] = ", ".join(formataddr(pair) for pair in to)
    if reply_to:
        message["Reply-To"] = formataddr((sender_name, reply_to))
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message[LOOP_HEADER] = sender_address
    message["X-Collabd-Kind"] = kind
    for name, value in (extra_headers or {}).items():
        message[name] = value
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    return message
