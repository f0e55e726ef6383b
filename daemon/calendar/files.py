"""Files attached to an organizer's invitation (Outlook's 背景材料): bounded, and kept as
files in the data directory, never in the ledger.

A REQUEST comes from outside; a 50 MB attachment once went into the ledger's
meeting_attachments.content, into every backup and every replica's copy. Now at most
`meetings.max_mail_files` files of at most `meetings.max_mail_files_mb` together are kept,
written under `meetings/<sha256 prefix>/<safe name>` in the data directory (the same
naming and atomic write as deliverables, closing/files.py); the ledger row keeps the name,
size, digest and that relative path (`content` stays NULL). A file over the limits is
dropped with its reason, which the caller puts in the inbound log.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..closing.files import safe_filename, write_file
from ..errors import DataError
from ..store.models import MeetingAttachment

if TYPE_CHECKING:
    from ..app import App
    from ..mail.envelope import Envelope

CALENDAR_TYPES = ("text/calendar", "application/ics")


@dataclass
class MailFiles:
    kept: list[MeetingAttachment] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # "name: why", for the inbound log

    def note(self) -> str:
        return f"; files not kept: {'; '.join(self.dropped)}" if self.dropped else ""


def attached_files(app: App, envelope: Envelope) -> MailFiles:
    limits = app.settings.meetings
    room = int(limits.max_mail_files_mb * 1024 * 1024)
    files = MailFiles()
    total = 0
    for part in envelope.message.walk():
        if part.is_multipart() or part.get_content_type() in CALENDAR_TYPES:
            continue
        if "attachment" not in str(part.get("Content-Disposition", "")).lower():
            continue
        name = _filename(part) or f"attachment-{len(files.kept) + len(files.dropped) + 1}"
        if len(files.kept) >= limits.max_mail_files:
            files.dropped.append(f"{name}: more than {limits.max_mail_files} files")
            continue
        # The encoded size bounds the decoded one (base64: 3/4 of it): a file that cannot
        # fit is dropped without decoding its megabytes.
        encoded = part.get_payload()
        if isinstance(encoded, str) and total + len(encoded) * 3 // 4 > room + 4:
            files.dropped.append(_too_big(name, limits.max_mail_files_mb))
            continue
        content = bytes(part.get_payload(decode=True) or b"")
        if total + len(content) > room:
            files.dropped.append(_too_big(name, limits.max_mail_files_mb))
            continue
        total += len(content)
        files.kept.append(kept_file(app.settings.data_dir, name, content, part.get_content_type()))
    return files


def kept_file(data_dir: Path, name: str, content: bytes, content_type: str) -> MeetingAttachment:
    """Write one meeting file under the data directory; its ledger row points at it."""
    digest = hashlib.sha256(content).hexdigest()
    relative = PurePosixPath("meetings", digest[:16], safe_filename(name, "attachment"))
    write_file(data_dir / relative, content)
    return MeetingAttachment(
        filename=name[:255],
        content_type=content_type,
        size=len(content),
        sha256=digest,
        path=str(relative),
        content=None,
    )


def files_from_paths(app: App, paths: list[str]) -> list[MeetingAttachment]:
    """`meeting schedule|update --attach FILE`: the organizer's own files, under the same
    limits as an invitation's (`meetings.max_mail_files`, `max_mail_files_mb` together),
    checked by size before a byte is read, and kept in the data directory like them. They
    used to be read whole into `meeting_attachments.content`: a 50 MB file went into the
    ledger and every backup of it."""
    limits = app.settings.meetings
    if len(paths) > limits.max_mail_files:
        raise DataError(
            f"--attach: {len(paths)} files, more than meetings.max_mail_files = "
            f"{limits.max_mail_files}: share a link in the agenda instead"
        )
    room = int(limits.max_mail_files_mb * 1024 * 1024)
    sources = []
    for name in paths:
        path = Path(name).expanduser()
        if path.is_dir():
            raise DataError(f"attachment {path}: is a directory, not a file")
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise DataError(f"attachment {path}: no such file") from None
        room -= size
        sources.append(path)
    if room < 0:
        total = int(limits.max_mail_files_mb * 1024 * 1024) - room
        raise DataError(
            f"the attachments add up to {total / 1048576:.1f} MB, over meetings."
            f"max_mail_files_mb = {limits.max_mail_files_mb:g}: share a link in the agenda "
            "instead"
        )
    kept = []
    for path in sources:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        kept.append(kept_file(app.settings.data_dir, path.name, path.read_bytes(), content_type))
    return kept


def move_blobs_to_files(session: Session, data_dir: Path) -> int:
    """Meeting files an older collabd kept in the ledger (`content`) move to the data
    directory, one row at a time (`collabd db upgrade` calls this): the row then points at
    its file and its blob is gone. Returns how many moved."""
    moved = 0
    while True:
        row = session.scalar(
            select(MeetingAttachment).where(MeetingAttachment.content.is_not(None)).limit(1)
        )
        if row is None:
            return moved
        kept = kept_file(data_dir, row.filename, row.content, row.content_type)
        row.path, row.sha256, row.size, row.content = kept.path, kept.sha256, kept.size, None
        session.flush()
        session.expunge(row)  # its megabytes are let go before the next row is loaded
        moved += 1


def _too_big(name: str, mb: float) -> str:
    return f"{name}: the invitation's files together are over {mb:g} MB"


def _filename(part) -> str:
    """Outlook writes RFC 2047 words inside the quoted filename; RFC 2231 is decoded already."""
    name = part.get_filename() or ""
    try:
        return str(make_header(decode_header(name))).strip()
    except Exception:  # a broken encoded word: keep what was written
        return name.strip()
