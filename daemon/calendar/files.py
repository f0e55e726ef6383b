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
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ..closing.files import safe_filename, write_file
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
        digest = hashlib.sha256(content).hexdigest()
        relative = PurePosixPath("meetings", digest[:16], safe_filename(name, "attachment"))
        write_file(app.settings.data_dir / relative, content)
        files.kept.append(
            MeetingAttachment(
                filename=name[:255],
                content_type=part.get_content_type(),
                size=len(content),
                sha256=digest,
                path=str(relative),
                content=None,
            )
        )
    return files


def _too_big(name: str, mb: float) -> str:
    return f"{name}: the invitation's files together are over {mb:g} MB"


def _filename(part) -> str:
    """Outlook writes RFC 2047 words inside the quoted filename; RFC 2231 is decoded already."""
    name = part.get_filename() or ""
    try:
        return str(make_header(decode_header(name))).strip()
    except Exception:  # a broken encoded word: keep what was written
        return name.strip()
