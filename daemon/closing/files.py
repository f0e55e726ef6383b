"""Files that arrive with a reply: which parts are deliverables, what they may be called on
disk, and writing them into the data directory.

A file name comes from a stranger's mail client, so it is treated as hostile: no directory
parts, no control or reserved characters, no names Windows refuses (CON, NUL …), bounded in
length, and never empty. What the mail called it is kept beside it in the ledger.
"""

from __future__ import annotations

import email.header
import email.message
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..mail.reply import decode

MAX_NAME_BYTES = 150  # well under every filesystem's 255, leaving room for a "-2" suffix
_RESERVED = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
# Characters that change how a name looks without being seen: bidi overrides and isolates
# (`invoice\u202efdp.exe` shows as "invoiceexe.pdf"), marks, zero-widths, C1 controls.
_INVISIBLE = re.compile("[\x80-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_CONTROLS = re.compile("[\x00-\x1f\x7f]")  # C0: replaced, as safe_filename always did


def visible(name: str) -> str:
    """The name without invisible characters: what the archive, the ledger and every mail
    show is what is on disk."""
    return _INVISIBLE.sub("", _CONTROLS.sub("_", name))


_WINDOWS_DEVICES = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{n}" for n in range(1, 10)),
    *(f"LPT{n}" for n in range(1, 10)),
}


@dataclass(frozen=True)
class IncomingFile:
    """One attached file, as the mail carried it."""

    filename: str  # decoded, as the sender's client named it ("" if it gave none)
    content: bytes
    content_type: str

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def attached_files(message: email.message.Message) -> list[IncomingFile]:
    """The files a person attached: parts marked `attachment`, or carrying a file name
    without being an inline picture (a signature logo has a Content-ID and is not a
    deliverable)."""
    found = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        name = _filename(part)
        if disposition != "attachment" and (
            not name or disposition == "inline" or part.get("Content-ID")
        ):
            continue
        content = part.get_payload(decode=True) or b""
        found.append(IncomingFile(name, bytes(content), part.get_content_type()))
    return found


def _filename(part: email.message.Message) -> str:
    """RFC 2231 (`filename*=utf-8''…`), RFC 2047 (`=?GB18030?B?…?=`) and raw 8-bit names,
    decoded."""
    part = _with_8bit_headers_read(part)
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:
        return ""
    if isinstance(name, tuple):  # an RFC 2231 `name*=` parameter
        name = email.utils.collapse_rfc2231_value(name)
    name = str(name)
    if "=?" in name:
        holder = email.message.Message()
        holder["X-Name"] = name
        name = decode.header(holder, "X-Name")
    return visible(str(name)).strip()


_NAMING = ("Content-Disposition", "Content-Type")


def _with_8bit_headers_read(part: email.message.Message) -> email.message.Message:
    """The part's naming headers with raw 8-bit bytes (a file name sent without RFC 2047 or
    2231, as Foxmail and old Outlook do) read as UTF-8, else GB18030: the email package
    turned them into U+FFFD. Other parts come back as they are."""
    found = {}
    for key, value in part.raw_items():
        if key.title() in _NAMING and isinstance(value, str) and not value.isascii():
            found[key.title()] = eight_bit(value)
    if not found:
        return part
    holder = email.message.Message()
    for key in _NAMING:
        value = found.get(key) or part.get(key)
        if value is not None:
            holder[key] = str(value)
    return holder


def eight_bit(text: str) -> str:
    """Surrogate escapes (the bytes parser's 8-bit) decoded as UTF-8, else GB18030."""
    raw = text.encode("utf-8", "surrogateescape")
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def safe_filename(name: str, fallback: str) -> str:
    """A name that is one plain file on every system we know, close to what was sent."""
    name = visible(unicodedata.normalize("NFC", name.replace("\\", "/"))).rsplit("/", 1)[-1]
    name = _RESERVED.sub("_", name).strip().strip(".").strip()
    name = re.sub(r"\s+", " ", name)
    if not name:
        name = fallback
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    suffix = suffix[:16]
    ext = f".{suffix}" if suffix else ""
    while len((stem + ext).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem or "file") + ext


def unique_name(name: str, taken: set[str]) -> str:
    """`报告.pdf`, then `报告-2.pdf`, `报告-3.pdf` … within one folder."""
    if name not in taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    number = 2
    while True:
        candidate = f"{stem}-{number}" + (f".{suffix}" if suffix else "")
        if candidate not in taken:
            return candidate
        number += 1


def write_file(path: Path, content: bytes) -> None:
    """Write through a temporary name and rename: a crash never leaves half a file under the
    real name, and a write that fails (disk full: ENOSPC) removes its partial file, so the
    space comes back and the mail, left in the inbox, is applied once there is room.
    Rewriting the same path with the same bytes (a mail applied again after a failed
    commit) is harmless."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_bytes(content)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def path_part(text: str) -> str:
    """A collaboration code as a directory name."""
    return safe_filename(text, "collab").replace(" ", "_")
