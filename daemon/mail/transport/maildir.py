"""The embedded transport: real Maildir folders under the data directory, no server needed.

Outgoing mail is delivered into one Maildir per recipient (`<root>/<address>/new/…`), files
any mail client can open, under unique names that sort by delivery (maildir_names.py).
Incoming mail is read from the collabd mailbox's own Maildir, `new/` and `cur/` together,
oldest delivery first, whoever delivered it (collabd, Postfix, Dovecot's LDA, a script).

An acknowledged mail is filed by renaming its file into the `.processed` or `.quarantine`
subfolder's `cur/` (Maildir++ naming, flags kept): the bytes are never parsed or written
again, so a mail no parser can make sense of is filed like any other, and filing costs one
rename whatever the inbox holds. A mail that cannot be filed (permissions, a vanished
folder) is logged and left in the inbox; the pass goes on with the next one, and the
inbound log turns the mail's next reading into a duplicate that is filed then.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .base import Envelope, IncomingMail, Outcome, PermanentFailure, TemporaryFailure
from .maildir_names import delivery_order, now_ns, unique_name

log = logging.getLogger(__name__)

SUBDIRS = ("tmp", "new", "cur")
FOLDERS = {Outcome.PROCESSED: ".processed", Outcome.QUARANTINED: ".quarantine"}


def _folder_name(address: str) -> str:
    name = address.strip().lower()
    if not name or "/" in name or name.startswith("."):
        raise PermanentFailure(f"cannot deliver to {address!r}: not a usable mail address")
    return name


def make_maildir(path: Path, *, subfolder: bool = False) -> Path:
    """tmp/ new/ cur/ under `path` (and Maildir++'s `maildirfolder` marker in a subfolder)."""
    for sub in SUBDIRS:
        (path / sub).mkdir(parents=True, exist_ok=True)
    if subfolder:
        (path / "maildirfolder").touch(exist_ok=True)
    return path


def filed_name(key: str) -> str:
    """The name a mail takes in a folder's cur/: `new/NAME` becomes `NAME:2,` (no flags
    yet); `cur/NAME:2,FLAGS` keeps its flags."""
    where, _, name = key.partition("/")
    if where == "cur" and ":2," in name:
        return name
    return f"{name.partition(':')[0]}:2,"


class MaildirTransport:
    def __init__(
        self, root: Path, own_address: str, *, clock_ns: Callable[[], int] = now_ns
    ) -> None:
        self.root = root
        self.own_address = own_address.lower()
        self.inbox = root / _folder_name(self.own_address)
        self.name = f"maildir:{self.inbox}"
        self._clock_ns = clock_ns
        self._ready: set[Path] = set()  # Maildirs known to exist: created once per transport

    def maildir_for(self, address: str) -> Path:
        path = self.root / _folder_name(address)
        if path not in self._ready:
            self._ready.add(make_maildir(path))
        return path

    # --- outgoing -------------------------------------------------------------------------
    def deliver(self, address: str, raw: bytes) -> Path:
        """The Maildir way: write into tmp/, flush to disk, then rename into new/ (atomic:
        a reader never sees half a mail). Returns the delivered file."""
        maildir = self.maildir_for(address)
        name = unique_name(self._clock_ns())
        staged = maildir / "tmp" / name
        with open(staged, "xb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        delivered = maildir / "new" / name
        os.rename(staged, delivered)
        return delivered

    def send(self, envelope: Envelope) -> None:
        if not envelope.recipients:
            raise PermanentFailure("no recipients")
        for recipient in envelope.recipients:
            try:
                self.deliver(recipient, envelope.raw)
            except OSError as exc:  # a full disk may clear up; treat it as temporary
                raise TemporaryFailure(
                    f"cannot write to the maildir of {recipient}: {exc}"
                ) from exc

    @contextlib.contextmanager
    def session(self) -> Iterator[MaildirTransport]:
        yield self

    # --- incoming -------------------------------------------------------------------------
    def pending(self) -> list[str]:
        """Keys (`new/NAME`, `cur/NAME`) of the mail in the inbox, oldest delivery first:
        one directory listing per pass, no stat per file."""
        maildir = self.maildir_for(self.own_address)
        keys: list[tuple[tuple[int, int, int, str], str]] = []
        for sub in ("new", "cur"):
            with os.scandir(maildir / sub) as entries:
                for entry in entries:
                    if not entry.name.startswith(".") and entry.is_file():
                        keys.append((delivery_order(entry.name), f"{sub}/{entry.name}"))
        keys.sort()
        return [key for _, key in keys]

    def fetch(self, since: int = 0) -> Iterator[IncomingMail]:
        # Maildir has no UIDs: the inbox holds exactly the mail not yet filed away.
        for key in self.pending():
            try:
                raw = (self.inbox / key).read_bytes()
            except FileNotFoundError:  # taken by another reader meanwhile
                continue
            yield IncomingMail(mailbox=self.name, key=key, raw=raw)

    def ack(self, mail: IncomingMail, outcome: Outcome) -> None:
        self.ack_many([mail], outcome)

    def ack_many(self, mails: list[IncomingMail], outcome: Outcome) -> None:
        folder = self.inbox / FOLDERS[outcome]
        try:
            if folder not in self._ready:
                self._ready.add(make_maildir(folder, subfolder=True))
        except OSError as exc:
            log.error("cannot file %d mail(s): %s cannot be made: %s", len(mails), folder, exc)
            return
        for mail in mails:
            self._file(mail.key, folder)

    def _file(self, key: str, folder: Path) -> None:
        source, target = self.inbox / key, folder / "cur" / filed_name(key)
        for attempt in (1, 2):
            try:
                os.rename(source, target)
                return
            except FileNotFoundError:
                if not source.exists():
                    return  # already filed (a second ack after a crash is harmless)
                if attempt == 1:  # the folder was removed while collabd ran: make it again
                    make_maildir(folder, subfolder=True)
                    continue
                error: OSError = FileNotFoundError(f"{folder} cannot be made")
            except OSError as exc:
                error = exc
            log.error(
                "cannot file %s into %s (left in the inbox, the pass goes on): %s",
                source,
                folder.name,
                error,
            )
            return

    def close(self) -> None:
        pass
