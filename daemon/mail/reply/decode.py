"""MIME → the one text part a person actually wrote in, decoded to ``str``.

Why this is more than ``msg.get_body()``:

* Chinese clients label GBK/GB18030 text as ``gb2312`` (and HKSCS text as
  ``big5``); decoding with the declared name turns 镕/㙍/埗 into U+FFFD, so the
  declared charset is widened to its superset first.
* Labels lie in both directions (``us-ascii`` holding UTF-8, ``utf-8`` holding
  GBK), so a strict decode is tried with a short fallback chain before
  accepting replacement characters.
* An attached message (``message/rfc822``, a forwarded mail as attachment, the
  original inside a bounce) is not what the person typed, so the walk never
  descends into ``message/*`` parts.
* Nothing here may raise: every accessor is wrapped and degrades to "".
"""

from __future__ import annotations

import datetime
import email
import email.header
import email.message
import email.policy
import email.utils
import re
import weakref
from collections.abc import Iterator

# Declared charset → codec that decodes everything the declared one can, and
# the characters clients really put in such parts.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "big-5": "big5hkscs",
    "csbig5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",  # a common lie: 8-bit UTF-8 labelled ascii
    "ascii": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
# Tried, strictly, after the declared charset failed.
_FALLBACKS = ("utf-8", "gb18030", "big5hkscs")
# cp950 is Microsoft's Big5 with a few extras (€ and friends) HKSCS lacks.
_SECOND_CHOICE = {"big5hkscs": "cp950", "gb18030": "cp936"}

_HTML_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([\w.:-]{1,40})""", re.I)

# text/plain parts that only say "read the HTML part".
_PLACEHOLDER_PLAIN = re.compile(
    r"^(?:this is a multi-?part message in mime format\.?"
    r"|your (?:e-?mail|mail) (?:client|program) does not support html.*"
    r"|(?:此|本)邮件(?:为|是)\s*html\s*格式.*"
    r"|请使用支持\s*html\s*的邮件客户端.*)$",
    re.I | re.S,
)

MAX_PART_BYTES = 2_000_000  # nobody types two megabytes of status update


def codec_for(declared: str | None) -> str | None:
    """Superset codec for a declared charset label (None when unlabelled)."""
    if not declared:
        return None
    label = declared.strip().strip("\"'").lower()
    return _SUPERSETS.get(label, label)


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode ``data`` without ever raising; replacement chars are the last resort."""
    chain: list[str] = []
    first = codec_for(declared)
    if first:
        chain.append(first)
        if first in _SECOND_CHOICE:
            chain.append(_SECOND_CHOICE[first])
    chain.extend(c for c in _FALLBACKS if c not in chain)
    usable: list[str] = []
    for codec in chain:
        try:
            text = data.decode(codec)
        except LookupError:
            continue  # unknown label such as "x-unknown"
        except (UnicodeDecodeError, ValueError):
            usable.append(codec)
            continue
        return text
    codec = usable[0] if usable else "utf-8"
    return data.decode(codec, errors="replace")


def load(raw: bytes | str | email.message.Message) -> email.message.Message:
    """Parse raw bytes (or accept an already parsed message)."""
    if isinstance(raw, email.message.Message):
        return raw
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogateescape")
    # compat32 is the most forgiving parser for broken headers; header values
    # are decoded by ``header`` below, not by the policy.
    return email.message_from_bytes(bytes(raw), policy=email.policy.compat32)


def _raw_header(msg: email.message.Message, name: str) -> str | None:
    """The header's raw text; 8-bit bytes come back as surrogate escapes."""
    wanted = name.lower()
    try:
        for key, value in msg.raw_items():
            if key.lower() == wanted:
                return str(value)
    except Exception:
        pass
    try:
        value = msg.get(name)
        return None if value is None else str(value)
    except Exception:
        return None


def header(msg: email.message.Message, name: str) -> str:
    """Decoded value of a header ("" when absent or hopelessly broken).

    Handles RFC 2047 encoded words with the same charset supersets as bodies,
    and raw 8-bit UTF-8/GBK headers, which many clients send unencoded.
    Remembered per message: ingest and the reply reader ask for From and Subject again.
    """
    decoded = _DECODED.setdefault(msg, {})
    if name not in decoded:
        decoded[name] = _decode_header(msg, name)
    return decoded[name]


# Messages here are parsed from received bytes and never changed afterwards.
_DECODED: weakref.WeakKeyDictionary[email.message.Message, dict[str, str]] = (
    weakref.WeakKeyDictionary()
)


def _decode_header(msg: email.message.Message, name: str) -> str:
    raw = _raw_header(msg, name)
    if not raw:
        return ""
    if raw.isascii() and "=?" not in raw:  # most headers: nothing to decode
        return " ".join(raw.split())
    try:
        if any("\udc80" <= ch <= "\udcff" for ch in raw):
            raw = decode_bytes(raw.encode("utf-8", "surrogateescape"))
        raw = re.sub(r"\r?\n[ \t]+", " ", raw)
        out = []
        for chunk, charset in email.header.decode_header(raw):
            if isinstance(chunk, bytes):
                # decode_header hands back unencoded stretches as raw-unicode-escape bytes
                out.append(
                    decode_bytes(chunk, charset) if charset else chunk.decode("raw-unicode-escape")
                )
            else:
                out.append(chunk)
        return re.sub(r"\s+", " ", "".join(out)).strip()
    except Exception:
        return re.sub(r"\s+", " ", raw).strip()


def mail_date(msg: email.message.Message) -> datetime.date | None:
    """The Date header as a calendar date in the sender's own timezone."""
    written = mail_datetime(msg)
    return written.date() if written else None


def mail_datetime(msg: email.message.Message) -> datetime.datetime | None:
    """The Date header as an instant (in the sender's own timezone); None when absent or
    unreadable. Without a zone ("-0000", or none at all) it is taken as UTC."""
    value = header(msg, "Date")
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except Exception:
        return None
    if parsed is None or not 1970 <= parsed.year <= 2200:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def _leaves(part: email.message.Message, depth: int = 0) -> Iterator[email.message.Message]:
    if depth > 30:
        return
    try:
        if part.get_content_maintype() == "message":
            return  # attached/forwarded message or delivery report: not typed text
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                for sub in payload:
                    if isinstance(sub, email.message.Message):
                        yield from _leaves(sub, depth + 1)
            return
    except Exception:
        return
    yield part


def _part_bytes(part: email.message.Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        try:
            payload = part.get_payload()
            data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
        except Exception:
            data = b""
    return bytes(data[:MAX_PART_BYTES])


def _charset(part: email.message.Message) -> str | None:
    try:
        charset = part.get_param("charset")
    except Exception:
        return None
    if isinstance(charset, tuple):  # RFC 2231 encoded parameter
        charset = charset[2]
    return str(charset) if charset else None


def _is_attachment(part: email.message.Message) -> bool:
    try:
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    except Exception:
        return False
    return disposition == "attachment"


def unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed soft line breaks (Thunderbird, Apple Mail).

    A line ending in a space continues on the next line of the same quote
    depth, so a long ``#2 needs support: …`` note arrives as one line. The
    signature separator ``-- `` is never a soft break.
    """
    out: list[str] = []
    pending = ""  # text of a paragraph still being joined
    pending_depth = -1

    def emit(depth: int, body: str) -> None:
        out.append(">" * depth + " " + body if depth else body)

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing (RFC 3676 §4.4)
        if pending_depth >= 0 and depth != pending_depth:
            emit(pending_depth, pending)  # quote depth changed: paragraph ends
            pending, pending_depth = "", -1
        if body.endswith(" ") and body.rstrip() != "--":
            pending += body[:-1] if delsp else body
            pending_depth = depth
        else:
            emit(depth, pending + body)
            pending, pending_depth = "", -1
    if pending_depth >= 0:
        emit(pending_depth, pending)
    return "\n".join(out)


def _part_text(part: email.message.Message) -> str:
    data = _part_bytes(part)
    declared = _charset(part)
    if declared is None and part.get_content_subtype() == "html":
        meta = _HTML_META_CHARSET.search(data[:4096])
        if meta:
            declared = meta.group(1).decode("ascii", "replace")
    text = decode_bytes(data, declared).replace("\r\n", "\n").replace("\r", "\n")
    try:
        flowed = (part.get_param("format") or "").lower() == "flowed"
        delsp = (part.get_param("delsp") or "").lower() == "yes"
    except Exception:
        flowed = delsp = False
    if flowed and part.get_content_subtype() == "plain":
        text = unflow(text, delsp)
    return text


def body_parts(msg: email.message.Message) -> tuple[str | None, str | None, str | None]:
    """First real text/plain, first text/html and first other text/* part."""
    plain: str | None = None
    html: str | None = None
    other: str | None = None
    for part in _leaves(msg):
        try:
            if _is_attachment(part):
                continue
            ctype = part.get_content_type()
        except Exception:
            continue
        if ctype == "text/plain" and plain is None:
            text = _part_text(part)
            if text.strip() and not _PLACEHOLDER_PLAIN.match(text.strip()):
                plain = text
        elif ctype == "text/html" and html is None:
            html = _part_text(part)
        elif ctype.startswith("text/") and other is None:
            other = _part_text(part)
    return plain, html, other


def best_body(msg: email.message.Message) -> tuple[str, bool]:
    """Return ``(text, is_html)`` for the part the person typed into.

    A real text/plain part wins (clients generate it from the same editor
    content, with ``>`` markers where HTML had blockquotes); HTML is used when
    the plain part is missing, empty or a "view the HTML version" stub.
    """
    plain, html, other = body_parts(msg)
    if plain is not None:
        return plain, False
    if html is not None:
        return html, True
    return other or "", False
