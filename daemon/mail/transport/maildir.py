"""The embedded transport: real Maildir folders under the data directory, no server needed.

Outgoing mail is delivered into one Maildir per recipient (`<root>/<address>/new/…`), files
any mail client can open. Incoming mail is read from the collabd mailbox's own Maildir; an
acknowledged mail moves to its `.processed` or `.quarantine` subfolder (Maildir++ naming), so
the inbox holds exactly the mail not yet handled.
"""

from __future__ import annotations

import contextlib
import mailbox
from collections.abc import Iterator
from pathlib import Path

from .base import Envelope, IncomingMail, Outcome, PermanentFailure, TemporaryFailure


def _folder_name(address: str) -> str:
    name = address.strip().lower()
    if not name or "/" in name or name.startswith("."):
        raise PermanentFailure(f"cannot deliver to {address!r}: not a usable mail address")
    return name


class MaildirTransport:
    def __init__(self, root: Path, own_address: str) -> None:
        self.root = root
        self.own_address = own_address.lower()
        self.name = f"maildir:{self.root / self.own_address}"

    def mailbox_for(self, address: str) -> mailbox.Maildir:
        self.root.mkdir(parents=True, exist_ok=True)
        return mailbox.Maildir(self.root / _folder_name(address), create=True)

    # --- outgoing -------------------------------------------------------------------------
    def send(self, envelope: Envelope) -> None:
        if not envelope.recipients:
            raise PermanentFailure("no recipients")
        for recipient in envelope.recipients:
            try:
                self.mailbox_for(recipient).add(envelope.raw)
            except OSError as exc:  # a full disk may clear up; treat it as temporary
                raise TemporaryFailure(
                    f"cannot write to the maildir of {recipient}: {exc}"
                ) from exc

    @contextlib.contextmanager
    def session(self) -> Iterator[MaildirTransport]:
        yield self

    # --- incoming -------------------------------------------------------------------------
    def _inbox(self) -> mailbox.Maildir:
        return self.mailbox_for(self.own_address)

    def fetch(self, since: int = 0) -> Iterator[IncomingMail]:
        # Maildir has no UIDs: the inbox holds exactly the mail not yet filed away.
        inbox = self._inbox()
        # Oldest first, as they arrived; Maildir keys start with the delivery time.
        for key in sorted(inbox.keys()):
            try:
                raw = inbox.get_bytes(key)
            except KeyError:  # taken by another reader meanwhile
                continue
            yield IncomingMail(mailbox=self.name, key=key, raw=raw)

    def ack(self, mail: IncomingMail, outcome: Outcome) -> None:
        inbox = self._inbox()
        folder_name = outcome.value
        folder = (
            inbox.get_folder(folder_name)
            if folder_name in inbox.list_folders()
            else inbox.add_folder(folder_name)
        )
        try:
            message = inbox.get_message(mail.key)
        except KeyError:
            return  # already filed: acking twice is harmless
        folder.add(message)
        inbox.discard(mail.key)

    def ack_many(self, mails: list[IncomingMail], outcome: Outcome) -> None:
        for mail in mails:
            self.ack(mail, outcome)

    def close(self) -> None:
        pass
