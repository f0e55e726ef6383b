"""Turning a rendered mail into RFC 5322 bytes with the headers collabd always sets.

Built with the email package's compat32 MIME classes: the modern EmailMessage API folds
headers about ten times slower (bench/ingest.py: 7.6 ms against 0.8 ms per mail), and every
answer to a reply is composed inside the ingest transaction.
"""

from __future__ import annotations

from datetime import datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr

from .render import RenderedMail

# Our own mails say so: auto-responders stay quiet (RFC 3834) and collabd drops a mail that
# carries its own loop header instead of answering itself.
LOOP_HEADER = "X-Collabd-Loop"
WIRE = compat32.clone(linesep="\r\n")


def _address(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8")


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
) -> bytes:
    message = MIMEMultipart("alternative")
    message["From"] = _address(sender_name, sender_address)
    message["To"] = ", ".join(_address(name, address) for name, address in to)
    if reply_to:
        message["Reply-To"] = _address(sender_name, reply_to)
    message["Subject"] = Header(mail.subject, "utf-8")
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message[LOOP_HEADER] = sender_address
    message["X-Collabd-Kind"] = kind
    for name, value in (extra_headers or {}).items():
        message[name] = value
    message.attach(MIMEText(mail.text, "plain", "utf-8"))
    message.attach(MIMEText(mail.html, "html", "utf-8"))
    return message.as_bytes(policy=WIRE)
