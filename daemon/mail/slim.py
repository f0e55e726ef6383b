"""Sent mails give their attachments back to the disk.

An acceptance request carries the round's files; while it waits in the outbox the ledger
holds them a second time (the files themselves are under `deliverables/`). Once it went,
nothing needs those bytes again: the journal's proof is settled by Message-ID, a reply is
read against the request's text, and the archive prints its text. So the sent request's
attachments are replaced by a one-line note naming each file (review F1: a 5 MB
`#N 完成` cost ~17 MB of data directory on SQLite). The text and HTML parts stay as sent.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email import message_from_bytes, policy
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from ..store.models import OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from .context import MailApp

log = logging.getLogger(__name__)

FILE_KINDS = ("acceptance_request",)  # the mails collabd attaches deliverables to
SLIM_ABOVE = 64 * 1024  # a sent mail larger than this still carries its files
BATCH = 50


def slim_sent(app: MailApp, now: datetime) -> list[str]:
    """Drop the attachments of sent file-carrying mails, BATCH a tick. Returns nothing to
    queue (the tick's job interface); the log says what was freed."""
    with app.db.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.raw)
            .where(
                OutboxMessage.kind.in_(FILE_KINDS),
                OutboxMessage.status == OutboxStatus.SENT,
                func.length(OutboxMessage.raw) > SLIM_ABOVE,
            )
            .limit(BATCH)
        ).all()
        freed = 0
        for row_id, raw in rows:
            slim = without_attachments(raw)
            freed += len(raw) - len(slim)
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(raw=slim)
                .execution_options(synchronize_session=False)
            )
    if rows:
        log.info(
            "outbox: %d sent mail(s) no longer keep their attachments in the ledger "
            "(%.1f MiB freed; the files stay under deliverables/)",
            len(rows),
            freed / 2**20,
        )
    return []


def without_attachments(raw: bytes) -> bytes:
    """The mail with each attachment replaced by a short text part naming it."""
    message = message_from_bytes(raw, policy=policy.default)
    for part in message.walk():
        if part.get_content_disposition() != "attachment":
            continue
        name = part.get_filename() or "file"
        part.set_content(
            f"[{name}: sent as an attachment; kept under the data directory's deliverables/]",
            disposition="attachment",
            filename=f"{name}.sent.txt",
        )
    return message.as_bytes()
