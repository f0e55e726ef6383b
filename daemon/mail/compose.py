"""Turning a rendered mail into RFC 5322 bytes with the headers collabd always sets.

Built with the email package's compat32 MIME classes: the modern EmailMessage API folds
headers about ten times slower (bench/ingest.py: 7.6 ms against 0.8 ms per mail), and every
answer to a reply is composed inside the ingest transaction.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import encoders
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr

from .render import RenderedMail

# Our own mails say so: auto-responders stay quiet (RFC 3834) and collabd drops a mail that
# carries its own loop header instead of answering itself.
LOOP_HEADER = "X-Collabd-Loop"


class _Wire(Compat32):
    """compat32 with CRLF line ends, and a fast path for short ASCII headers: the stock
    policy builds an email.header.Header for every header only to fold it, which was half
    of composing a mail (bench/ingest.py answers every reply inside its transaction)."""

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and len(name) + len(value) + 2 <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


WIRE = _Wire(linesep="\r\n")


@dataclass(frozen=True)
class Attachment:
    """A file sent beside the message text (Content-Disposition: attachment)."""

    filename: str
    content: bytes
    content_type: str = ""  # guessed from the file name when empty

    def part(self) -> MIMEBase:
        content_type = (
            self.content_type
            or mimetypes.guess_type(self.filename)[0]
            or "application/octet-stream"
        )
        maintype, _, subtype = content_type.partition("/")
        part = MIMEBase(maintype, subtype)
        part.set_payload(self.content)
        encoders.encode_base64(part)
        # RFC 2231 encoding keeps Chinese file names intact in every client we know.
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", self.filename))
        return part


@dataclass(frozen=True)
class CalendarPart:
    """An iMIP object (RFC 6047): inside multipart/alternative, base64, no disposition."""

    ics: bytes
    method: str  # REQUEST, CANCEL, REPLY, COUNTER …

    def part(self) -> MIMENonMultipart:
        part = MIMENonMultipart("text", "calendar", method=self.method, charset="utf-8")
        part.set_payload(self.ics)
        encoders.encode_base64(part)
        return part


@dataclass(frozen=True)
class InlineImage:
    """A picture the HTML shows with <img src="cid:CONTENT_ID"> (the weekly digest's Gantt):
    the HTML and its images go together in a multipart/related part."""

    content_id: str
    filename: str
    content: bytes
    subtype: str = "png"

    def part(self) -> MIMEBase:
        part = MIMEBase("image", self.subtype)
        part.set_payload(self.content)
        encoders.encode_base64(part)
        part.add_header("Content-ID", f"<{self.content_id}>")
        part.add_header("Content-Disposition", "inline", filename=self.filename)
        return part


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
    calendar: CalendarPart | None = None,
    attachments: Sequence[Attachment | InlineImage] = (),
) -> bytes:
    """multipart/alternative (plain, html[, calendar]); with attachments, that goes first
    inside a multipart/mixed and each file follows as its own part (the shape Outlook
    expects for invitations with files)."""
    # Boundaries from the Message-ID: the generator then need not invent one and search the
    # whole text for it ("=_" never occurs in base64 or in our header lines).
    boundary = "=_collabd_" + hashlib.sha1(message_id.encode()).hexdigest()[:24]
    body = MIMEMultipart("alternative", boundary=boundary + "_a")
    body.attach(MIMEText(mail.text, "plain", "utf-8"))
    # Inline images (attachments that are InlineImage) travel with the HTML they belong to.
    images = [a for a in attachments if isinstance(a, InlineImage)]
    attachments = [a for a in attachments if not isinstance(a, InlineImage)]
    if images:
        related = MIMEMultipart("related", boundary=boundary + "_r")
        related.attach(MIMEText(mail.html, "html", "utf-8"))
        for image in images:
            related.attach(image.part())
        body.attach(related)
    else:
        body.attach(MIMEText(mail.html, "html", "utf-8"))
    if calendar is not None:
        body.attach(calendar.part())
    if attachments:
        message = MIMEMultipart("mixed", boundary=boundary + "_m")
        message.attach(body)
        for attachment in attachments:
            message.attach(attachment.part())
    else:
        message = body
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
    return message.as_bytes(policy=WIRE)
