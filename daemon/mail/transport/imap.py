"""Reading the collabd mailbox over IMAP with imapclient.

Mail is fetched with BODY.PEEK[] so a person looking at the same mailbox still sees it
unread; collabd's own state is never the \\Seen flag but the ledger (UIDVALIDITY + UID) and
the folder a mail sits in: handled mail is moved out of the watched folder after commit.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import date

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ..oauth import MailboxSignIn
from .base import IncomingMail, Outcome, SignInFailed, TemporaryFailure
from .bearer import bearer_sign_in

FETCH_BATCH = 200


class ConnectionClosed(OSError):
    """The server ended the IMAP session (BYE, or end of stream) while collabd waited."""


def _reads_eof(sock: socket.socket) -> bool:
    """True when the connection's socket is at end of stream (the server closed it). Peeks
    at the TCP socket under any TLS layer, without consuming a byte."""
    try:
        with socket.socket(fileno=os.dup(sock.fileno())) as raw:
            return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:  # nothing to read yet: alive
        return False
    except OSError:  # reset, or already closed
        return True


class ImapMailbox:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str,
        password: str = "",
        sign_in: MailboxSignIn | None = None,
        security: str = "ssl",
        folder: str = "INBOX",
        processed_folder: str = "collabd/processed",
        quarantine_folder: str = "collabd/quarantine",
        journal_folder: str = "",
        timeout: float = 60.0,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self.sign_in = sign_in  # OAuth 2.0 instead of the password (see mail/oauth)
        self.folder = folder
        self.targets = {Outcome.PROCESSED: processed_folder, Outcome.QUARANTINED: quarantine_folder}
        self.journal_folder = journal_folder
        self.name = f"imap://{username}@{host}:{port}/{folder}"
        self._client: IMAPClient | None = None
        self._delimiter = "/"
        self._uidnext_at_pass: int | None = None  # UIDNEXT when the last fetch began

    # --- connection -----------------------------------------------------------------------
    def client(self) -> IMAPClient:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> IMAPClient:
        try:
            client = IMAPClient(
                self.host,
                port=self.port,
                ssl=self.security == "ssl",
                ssl_context=ssl.create_default_context() if self.security == "ssl" else None,
                timeout=self.timeout,
            )
            if self.security == "starttls":
                client.starttls(ssl.create_default_context())
            if self.sign_in is None:
                client.login(self.username, self.password)
            else:
                self._bearer_login(client)
            folders = client.list_folders()
            if folders:
                self._delimiter = (folders[0][1] or b"/").decode()
            journal = self.server_name(self.journal_folder)
            if self.journal_folder and not any(f[2] == journal for f in folders):
                # The server files the journal copies here once it exists (Dovecot's
                # lmtp_save_to_detail_mailbox): they then never reach the watched folder.
                client.create_folder(journal)
            client.select_folder(self.folder)
        except LoginError as exc:  # reached, and refused: a password to fix, not a network
            raise SignInFailed(f"sign-in to {self.name} refused: {exc}") from exc
        except (OSError, IMAPClientError) as exc:
            raise TemporaryFailure(f"cannot open {self.name}: {exc}") from exc
        return client

    def _bearer_login(self, client: IMAPClient) -> None:
        """AUTHENTICATE XOAUTH2 or OAUTHBEARER; a refused token is renewed and tried once
        more on the same connection (IMAP allows another AUTHENTICATE after a NO)."""
        offered = {
            capability.decode().upper().removeprefix("AUTH=")
            for capability in client.capabilities()
            if capability.upper().startswith(b"AUTH=")
        }
        try:
            bearer_sign_in(
                self.sign_in,
                offered,
                lambda exchange: client.sasl_login(exchange.mechanism, exchange),
                LoginError,
                f"IMAP {self.host}:{self.port}",
            )
        except TemporaryFailure:
            client.shutdown()
            raise

    def server_name(self, folder: str) -> str:
        """Configured names use '/'; the server may separate levels with '.'."""
        return folder.replace("/", self._delimiter)

    @property
    def uidvalidity(self) -> int:
        status = self.client().folder_status(self.folder, [b"UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    # --- reading --------------------------------------------------------------------------
    def fetch(self, since: int = 0) -> Iterator[IncomingMail]:
        client = self.client()
        try:
            selected = client.select_folder(self.folder)
            uidvalidity = int(selected[b"UIDVALIDITY"])
            # Mail delivered from here on gets a UID at or past this (see wait_for_new).
            self._uidnext_at_pass = int(selected.get(b"UIDNEXT", 0)) or None
            # "N:*" always matches the last message, even below N: filter again.
            uids = sorted(u for u in client.search(["UID", f"{since + 1}:*"]) if u > since)
            for start in range(0, len(uids), FETCH_BATCH):
                batch = uids[start : start + FETCH_BATCH]
                for uid, data in sorted(client.fetch(batch, [b"BODY.PEEK[]"]).items()):
                    raw = data.get(b"BODY[]")
                    if raw is None:  # expunged meanwhile
                        continue
                    yield IncomingMail(
                        mailbox=self.name,
                        key=str(uid),
                        raw=raw,
                        uidvalidity=uidvalidity,
                        uid=uid,
                    )
        except (OSError, IMAPClientError) as exc:
            self._drop()
            raise TemporaryFailure(f"reading {self.name} failed: {exc}") from exc

    def wait_for_new(
        self, timeout: float, stop: threading.Event | None = None, poll: float = 1.0
    ) -> bool:
        """IDLE (RFC 2177) until the server announces new mail, `timeout` passes or `stop` is
        set. True if new mail was announced. Checking every `poll` seconds keeps shutdown
        prompt; the caller re-issues IDLE well before the server's 29-minute limit.

        Mail delivered during the pass that just ended is announced by neither IDLE nor a
        later NOOP: the server told the session during the pass's own commands, whose
        untagged EXISTS imapclient drops. So: a NOOP brings the session up to date (Dovecot
        answers STATUS on the selected mailbox from the session's view), then UIDNEXT is
        compared with its value when the pass began; only with nothing new does IDLE start."""
        client = self.client()
        try:
            _, responses = client.noop()
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                return True
            if self._uidnext_at_pass is not None:
                status = client.folder_status(self.folder, [b"UIDNEXT"])
                if int(status[b"UIDNEXT"]) > self._uidnext_at_pass:
                    return True
        except (OSError, IMAPClientError) as exc:
            self._drop()
            raise TemporaryFailure(f"checking {self.name} for new mail failed: {exc}") from exc
        try:
            client.idle()
            try:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and not (stop and stop.is_set()):
                    wait = max(0.05, min(poll, deadline - time.monotonic()))
                    started = time.monotonic()
                    responses = client.idle_check(timeout=wait)
                    for response in responses:
                        if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                            return True
                        if response and response[0] == b"BYE":
                            raise ConnectionClosed(f"the server said BYE: {response[1:]!r}")
                    # idle_check swallows an EOF and returns nothing at once, for ever:
                    # an early empty answer on a socket that reads EOF is a dead connection.
                    early = time.monotonic() - started < wait / 2
                    if not responses and early and _reads_eof(client.socket()):
                        raise ConnectionClosed("the server closed the connection")
                return False
            finally:
                client.idle_done()
        except (OSError, IMAPClientError) as exc:
            self._drop()
            raise TemporaryFailure(f"IDLE on {self.name} failed: {exc}") from exc

    def ack(self, mail: IncomingMail, outcome: Outcome) -> None:
        self.ack_many([mail], outcome)

    def ack_many(self, mails: list[IncomingMail], outcome: Outcome) -> None:
        """File mails away in one command; a UID already moved is simply not found."""
        if not mails:
            return
        client = self.client()
        target = self.server_name(self.targets[outcome])
        uids = [int(mail.key) for mail in mails]
        try:
            if not client.folder_exists(target):
                client.create_folder(target)
            if client.has_capability("MOVE"):
                client.move(uids, target)
            else:
                client.copy(uids, target)
                client.delete_messages(uids)
                client.uid_expunge(uids)
        except (OSError, IMAPClientError) as exc:
            self._drop()
            raise TemporaryFailure(
                f"filing {len(uids)} mail(s) into {target} failed: {exc}"
            ) from exc

    # --- the journal folder (an ImapMailbox opened on it: see open_journal) ---------------
    def message_ids_present(self, message_ids: list[str], also: tuple[str, ...] = ()) -> set[str]:
        """Which of these Message-IDs a mail in this folder (or in the folders `also`
        names) carries: one SEARCH each, only sends a crash interrupted are looked up."""
        client = self.client()
        found: set[str] = set()
        try:
            for folder in (self.folder, *also):
                client.select_folder(self.server_name(folder), readonly=True)
                found |= {m for m in message_ids if client.search(["HEADER", "Message-ID", m])}
        except (OSError, IMAPClientError) as exc:
            self._drop()
            raise TemporaryFailure(f"searching {self.name} failed: {exc}") from exc
        return found

    def delete_before(self, day: date) -> int:
        """Delete the mails that arrived before `day`; returns how many."""
        client = self.client()
        try:
            client.select_folder(self.folder)
            uids = client.search(["BEFORE", day])
            if uids:
                client.delete_messages(uids)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()
            return len(uids)
        except (OSError, IMAPClientError) as exc:
            self._drop()
            raise TemporaryFailure(f"pruning {self.name} failed: {exc}") from exc

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # the connection is already broken
                client.shutdown()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except Exception:
                client.shutdown()
