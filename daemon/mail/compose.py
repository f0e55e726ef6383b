"""Turning a rendered mail into RFC 5322 bytes with the headers collabd always sets.

collabd's mails have few shapes: multipart/alternative (plain, html[, calendar]), the HTML
maybe in multipart/related with its pictures, all maybe in multipart/mixed with files. Every
leaf is base64. So the bytes are written here directly instead of building email.message
objects and running the email package's generator over them: that was two thirds of
queueing an answer, and every answer to a reply is composed inside the ingest transaction
(bench/ingest.py). Non-ASCII headers become RFC 2047 encoded words, written here too;
tests/test_compose.py reads every shape back with the email package's strict parser.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr
from functools import lru_cache
from urllib.parse import quote

from .render import RenderedMail, without_invisible

# Our own mails say so: auto-responders stay quiet (RFC 3834) and collabd drops a mail that
# carries its own loop header instead of answering itself.
LOOP_HEADER = "X-Collabd-Loop"

CRLF = "\r\n"
MAX_LINE = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters
_RFC2231_CHUNK = 57  # percent-encoded characters per continuation: lines stay within 78


def header_line(name: str, value: str) -> str:
    """`Name: value` CRLF, folded to MAX_LINE where the value allows it.

    ASCII is folded at spaces (RFC 5322 folding); anything else becomes RFC 2047 encoded
    words, one per line."""
    if not value.isascii():
        return f"{name}: " + f"{CRLF} ".join(_encoded_words(value, len(name) + 2)) + CRLF
    value = " ".join(value.split())  # no CR/LF or runs of blanks from a caller's value
    if len(name) + 2 + len(value) <= MAX_LINE:
        return f"{name}: {value}{CRLF}"
    lines, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return CRLF.join(lines) + CRLF


def _encoded_words(value: str, indent: int, reserve: int = 0) -> list[str]:
    """RFC 2047 B-encoded words (`=?utf-8?b?…?=`) that keep every line within MAX_LINE and
    never split a character between two words (RFC 2047 5: each word decodes on its own).
    Written out because email.header took a sixth of composing an answer's headers.
    `reserve` characters are kept free on every line (a closing quote after the words)."""
    value = " ".join(value.split())
    words, chunk, size = [], [], 0
    room = (MAX_LINE - indent - reserve - 12) // 4 * 3  # payload bytes for the first line
    for char in value:
        length = len(char.encode("utf-8"))
        if size + length > room:
            words.append("".join(chunk))
            chunk, size, room = [], 0, (MAX_LINE - 1 - reserve - 12) // 4 * 3
        chunk.append(char)
        size += length
    words.append("".join(chunk))
    return [f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words]


def _base64(content: bytes) -> bytes:
    """Base64 in lines of 76 characters (RFC 2045 6.8), CRLF-terminated."""
    return base64.encodebytes(content).replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class _Entity:
    """A MIME entity as it goes on the wire: its content headers, then its body."""

    headers: str  # complete header lines, each ending in CRLF
    body: bytes

    def to_bytes(self) -> bytes:
        return self.headers.encode("ascii") + b"\r\n" + self.body


def _leaf(content_type: str, content: bytes, *more_headers: str) -> _Entity:
    headers = (
        header_line("Content-Type", content_type)
        + header_line("Content-Transfer-Encoding", "base64")
        + "".join(more_headers)
    )
    return _Entity(headers, _base64(content))


def _text(subtype: str, text: str) -> _Entity:
    return _leaf(f'text/{subtype}; charset="utf-8"', text.encode("utf-8"))


def _multipart(subtype: str, boundary: str, parts: list[_Entity]) -> _Entity:
    # Boundaries are "=_collabd_" + hex: "=_" never occurs in base64 or in header lines.
    delimiter = b"--" + boundary.encode("ascii")
    body = b"".join(delimiter + b"\r\n" + part.to_bytes() + b"\r\n" for part in parts)
    return _Entity(
        header_line("Content-Type", f'multipart/{subtype}; boundary="{boundary}"'),
        body + delimiter + b"--\r\n",
    )


def _plain(filename: str) -> bool:
    """A file name that can go between quotes as it is."""
    return (
        filename.isascii()
        and filename.isprintable()
        and not any(c in filename for c in '"\\')
        and "  " not in filename  # header_line would fold a run of blanks into one
    )


def _disposition(kind: str, filename: str) -> str:
    """Content-Disposition with the file name: quoted if it is plain ASCII, otherwise
    RFC 2231 (`filename*=utf-8''…`, continued over several lines when long), which keeps
    Chinese file names intact in every client we know."""
    if _plain(filename):
        return header_line("Content-Disposition", f'{kind}; filename="{filename}"')
    encoded = quote(filename, safe="")
    if len("filename*=utf-8''") + len(encoded) <= MAX_LINE - 1:
        return f"Content-Disposition: {kind};{CRLF} filename*=utf-8''{encoded}{CRLF}"
    # A continuation never splits a %XX escape.
    chunks, start = [], 0
    while start < len(encoded):
        end = min(start + _RFC2231_CHUNK, len(encoded))
        while "%" in encoded[max(end - 2, start) : end] and end < len(encoded):
            end -= 1
        chunks.append(encoded[start:end])
        start = end
    params = [f"filename*0*=utf-8''{chunks[0]}"]
    params += [f"filename*{n}*={chunk}" for n, chunk in enumerate(chunks[1:], start=1)]
    return f"Content-Disposition: {kind};{CRLF} " + f";{CRLF} ".join(params) + CRLF


def _named(content_type: str, filename: str) -> str:
    """The Content-Type line with the file name as `name=` too: what Outlook and Thunderbird
    send, and what older clients read (QQ Mail, Lotus Notes, Outlook over POP/IMAP know
    only this form). A non-ASCII name is RFC 2047 encoded words inside the quotes (not
    standard, but the form those clients understand), one word per line."""
    if _plain(filename):
        return header_line("Content-Type", f'{content_type}; name="{filename}"')
    words = _encoded_words(filename, len(' name="'), reserve=2)  # the closing quote
    return f'Content-Type: {content_type};{CRLF} name="' + f"{CRLF} ".join(words) + f'"{CRLF}'


def _file(content_type: str, content: bytes, *more_headers: str, filename: str) -> _Entity:
    """A leaf that is a file: its name on Content-Type (RFC 2047) and on the disposition
    (RFC 2231), so every client finds one it reads."""
    headers = (
        _named(content_type, filename)
        + header_line("Content-Transfer-Encoding", "base64")
        + "".join(more_headers)
    )
    return _Entity(headers, _base64(content))


@dataclass(frozen=True)
class Attachment:
    """A file sent beside the message text (Content-Disposition: attachment)."""

    filename: str
    content: bytes
    content_type: str = ""  # guessed from the file name when empty

    def entity(self) -> _Entity:
        # The name the reader's client shows is the name: `报价\u202efdp.exe` would show as
        # "报价exe.pdf" (attacker re-run N3: `meeting schedule --attach` kept the override).
        name = without_invisible(self.filename)
        content_type = (
            self.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        return _file(
            content_type,
            self.content,
            _disposition("attachment", name),
            filename=name,
        )


@dataclass(frozen=True)
class CalendarPart:
    """An iMIP object (RFC 6047): inside multipart/alternative, base64, no disposition."""

    ics: bytes
    method: str  # REQUEST, CANCEL, REPLY, COUNTER …

    def entity(self) -> _Entity:
        return _leaf(f'text/calendar; method="{self.method}"; charset="utf-8"', self.ics)


@dataclass(frozen=True)
class InlineImage:
    """A picture the HTML shows with <img src="cid:CONTENT_ID"> (the weekly digest's Gantt):
    the HTML and its images go together in a multipart/related part."""

    content_id: str
    filename: str
    content: bytes
    subtype: str = "png"

    def entity(self) -> _Entity:
        return _file(
            f"image/{self.subtype}",
            self.content,
            header_line("Content-ID", f"<{self.content_id}>"),
            _disposition("inline", self.filename),
            filename=self.filename,
        )


@lru_cache(maxsize=4096)  # collabd's own name and the people it writes to, over and over
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
    # Boundaries from the Message-ID: unique per mail, and the same bytes when composed again.
    boundary = "=_collabd_" + hashlib.sha1(message_id.encode()).hexdigest()[:24]
    html = _text("html", mail.html)
    # Inline images (attachments that are InlineImage) travel with the HTML they belong to.
    images = [a.entity() for a in attachments if isinstance(a, InlineImage)]
    if images:
        html = _multipart("related", boundary + "_r", [html, *images])
    alternatives = [_text("plain", mail.text), html]
    if calendar is not None:
        alternatives.append(calendar.entity())
    body = _multipart("alternative", boundary + "_a", alternatives)
    files = [a.entity() for a in attachments if not isinstance(a, InlineImage)]
    if files:
        body = _multipart("mixed", boundary + "_m", [body, *files])
    headers = [
        ("MIME-Version", "1.0"),
        ("From", _address(sender_name, sender_address)),
        ("To", ", ".join(_address(name, address) for name, address in to)),
        *([("Reply-To", _address(sender_name, reply_to))] if reply_to else []),
        ("Subject", mail.subject),
        ("Date", format_datetime(date)),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),
        (LOOP_HEADER, sender_address),
        ("X-Collabd-Kind", kind),
        *(extra_headers or {}).items(),
    ]
    top = body.headers + "".join(header_line(name, value) for name, value in headers)
    return _Entity(top, body.body).to_bytes()
