"""The collabd mailbox on Exchange Online, through Microsoft Graph (`mail.backend = "graph"`).

Out: every mail is the exact MIME collabd composed, base64-encoded as the body of
POST /users/{id}/sendMail (Content-Type: text/plain), so its headers, Message-ID and reply
token are byte for byte those an SMTP server would have received; Exchange keeps a copy in
Sent Items. Exactly once: a connection that breaks after the request went out is
OutcomeUnknown, and the send is settled later by looking for the mail's Message-ID in Sent
Items (`sent_copy_exists`, the `internetMessageId` filter) instead of sending it blindly
again (daemon/service/journal.py).

In: the watched folder is read by delta query (/mailFolders/inbox/messages/delta), page by
page through @odata.nextLink to the @odata.deltaLink. That delta link is collabd's cursor,
stored in the ledger (MailboxCursor.sync_state) in the same transaction as the last mail of
the pass it covers. A full pass starts a new delta round (everything still in the folder:
handled mail has been moved out). Graph forgets delta tokens (410 Gone, syncStateNotFound):
the pass then starts a new round, and the inbound log's Message-ID key makes every mail seen
again a no-op. Each mail's MIME comes from /messages/{id}/$value; after the ledger commit
it is moved (/messages/{id}/move) to the processed or quarantine folder. New mail is noticed
by asking for the newest message of the folder every `poll_interval` (Graph's push
notifications need a public HTTPS endpoint, which a daemon behind a firewall has not).

Tested against tests/graph_server.py: a loopback HTTPS fixture answering with bodies shaped
like Microsoft's documented Graph responses, not a live Microsoft 365 tenant.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from .base import (
    Envelope,
    IncomingMail,
    Outcome,
    OutcomeUnknown,
    PermanentFailure,
    TransportError,
    not_in_headers,
)
from .graph_http import (
    INLINE_FILE_LIMIT,
    GraphClient,
    GraphError,
    TokenSource,
    expired_sync_state,
)

log = logging.getLogger(__name__)

DELTA_PAGE = 50  # messages per delta page (Prefer: odata.maxpagesize)
WELL_KNOWN = frozenset({"inbox", "sentitems", "drafts", "deleteditems", "archive", "junkemail"})


@dataclass(frozen=True)
class GraphSettings:
    """How to reach the mailbox; built from [mail.graph] by open_transport."""

    user: str  # the collabd mailbox (its address, or its Entra object id)
    endpoint: str = "https://graph.microsoft.com"
    authority: str = "https://login.microsoftonline.com/common"  # with the tenant
    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    folder: str = "inbox"
    processed_folder: str = "collabd/processed"
    quarantine_folder: str = "collabd/quarantine"
    timeout: float = 60.0
    poll_seconds: float = 10.0
    ca_file: Path | None = None  # mail.oauth.ca_file: a private CA or TLS-inspecting proxy
    app_section: str = "mail.oauth"  # where the app's ids are written (config/graph_app.py)

    @property
    def name(self) -> str:
        host = self.endpoint.split("//", 1)[-1].split("/", 1)[0]
        return f"graph://{host}/{self.user}/{self.folder}"


def odata_string(value: str) -> str:
    """A string literal in an OData $filter: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


class GraphAccount:
    """The Graph client and the mailbox's folder ids, shared by sending, reading and the
    calendar."""

    def __init__(self, settings: GraphSettings, token: TokenSource) -> None:
        self.settings = settings
        self.token = token  # graph_auth.graph_sign_in: msal, the token kept in the ledger
        self.client = GraphClient(
            settings.endpoint, self.token, timeout=settings.timeout, ca_file=settings.ca_file
        )
        self.user_path = f"/users/{quote(settings.user, safe='@')}"
        self._folders: dict[str, str] = {}
        self._lock = threading.Lock()

    def folder_id(self, path: str, create: bool = False) -> str:
        """A well-known folder name as it is, or the id of a path below the mailbox top."""
        if path.lower() in WELL_KNOWN:
            return path.lower()
        with self._lock:
            if path not in self._folders:
                self._folders[path] = self._walk(path, create)
            return self._folders[path]

    def _walk(self, path: str, create: bool) -> str:
        node = "msgfolderroot"
        for part in [p for p in path.split("/") if p]:
            children = f"{self.user_path}/mailFolders/{node}/childFolders"
            found = self.client.json(
                "GET",
                f"{children}?$filter=displayName eq {quote(odata_string(part))}&$select=id",
                doing=f"looking up folder {path}",
            ).get("value", [])
            if found:
                node = found[0]["id"]
                continue
            if not create:
                raise PermanentFailure(f"the mailbox {self.settings.user} has no folder {path}")
            node = self.client.json(
                "POST", children, json={"displayName": part}, doing=f"creating folder {path}"
            )["id"]
        return node

    def forget_folders(self) -> None:
        with self._lock:
            self._folders.clear()

    def close(self) -> None:
        self.client.close()


class GraphSender:
    """Outgoing mail through sendMail with our own MIME bytes."""

    def __init__(self, account: GraphAccount) -> None:
        self.account = account

    @contextlib.contextmanager
    def session(self) -> Iterator[GraphSender]:
        yield self  # one HTTP session pool for everything; nothing to open per batch

    def send(self, envelope: Envelope) -> None:
        if not envelope.recipients:
            raise PermanentFailure("no recipients")
        # Graph takes the recipients from the MIME headers; anyone the envelope names besides
        # them becomes a Bcc header, which Exchange removes from what the others receive.
        extra = not_in_headers(envelope.raw, envelope.recipients)
        raw = envelope.raw
        if extra:
            raw = f"Bcc: {', '.join(extra)}\r\n".encode() + raw
        if len(raw) * 4 // 3 > SENDMAIL_LIMIT:
            self._send_large(envelope, raw)
            return
        self.account.client.request(
            "POST",
            f"{self.account.user_path}/sendMail",
            data=base64.b64encode(raw),
            headers={"Content-Type": "text/plain"},
            doing=f"sending {envelope.message_id or 'a mail'}",
            unsure_once_sent=True,
        )

    def _send_large(self, envelope: Envelope, raw: bytes) -> None:
        """A mail over sendMail's 4 MB, as Microsoft documents for large attachments: a draft
        made from our MIME without its large files (headers, Message-ID and reply token as
        composed), each of those files through an upload session, then /send. Exchange files
        the sent copy under the same Message-ID, so exactly-once is proved the same way.

        No draft is left in the collabd mailbox's Drafts: one whose upload or /send Graph
        refused is deleted at once, and a draft an earlier try left behind (a crash, a
        connection lost before the delete) is deleted before a new one is made. A /send
        whose answer was lost (OutcomeUnknown) keeps its draft: Graph may be sending it, and
        the journal settles it by Sent Items; if it was not sent, the next try removes it."""
        doing = f"sending {envelope.message_id or 'a mail'}"
        small, files = split_large_files(raw, INLINE_FILE_LIMIT)
        client, user = self.account.client, self.account.user_path
        self._delete_drafts_of(envelope.message_id, doing)
        draft = client.json(
            "POST",
            f"{user}/messages",
            data=base64.b64encode(small),
            headers={"Content-Type": "text/plain"},
            doing=f"{doing}: the draft",
        )
        path = f"{user}/messages/{quote(draft['id'], safe='')}"
        try:
            for name, content_type, content in files:
                upload_attachment(self.account, path, name, content_type, content, doing)
            client.request("POST", f"{path}/send", doing=doing, unsure_once_sent=True)
        except OutcomeUnknown:
            raise
        except TransportError:
            self._delete_draft(path, doing)
            raise

    def _delete_drafts_of(self, message_id: str, doing: str) -> None:
        """Delete the drafts of this Message-ID an earlier try left in Drafts."""
        if not message_id:
            return
        found = self.account.client.json(
            "GET",
            f"{self.account.user_path}/mailFolders/drafts/messages"
            f"?$filter=internetMessageId eq {quote(odata_string(message_id))}&$select=id",
            doing=f"{doing}: looking for an earlier try's draft",
        ).get("value", [])
        for leftover in found:
            log.info("%s: deleting the draft an earlier try left behind", doing)
            path = f"{self.account.user_path}/messages/{quote(leftover['id'], safe='')}"
            self._delete_draft(path, doing, quiet=False)

    def _delete_draft(self, path: str, doing: str, quiet: bool = True) -> None:
        """DELETE the draft (Graph moves it to Deleted Items). After a failure (`quiet`) a
        draft that cannot be deleted now is left for the next try's clean-up: the
        failure that brought us here is the one to report."""
        try:
            self.account.client.request("DELETE", path, doing=f"{doing}: deleting the draft")
        except GraphError as exc:
            if exc.status == 404:  # gone already
                return
            if not quiet:
                raise
            log.warning("%s: the draft stays until the next try: %s", doing, exc)
        except TransportError as exc:
            if not quiet:
                raise
            log.warning("%s: the draft stays until the next try: %s", doing, exc)

    def sent_copy_exists(self, message_id: str) -> bool:
        """Is the mail with this Message-ID in Sent Items? Exchange files its copy there once
        it has sent it: the proof that settles a send whose answer a crash lost."""
        found = self.account.client.json(
            "GET",
            f"{self.account.user_path}/mailFolders/sentitems/messages"
            f"?$filter=internetMessageId eq {quote(odata_string(message_id))}&$select=id&$top=1",
            doing=f"looking for {message_id} in Sent Items",
        )
        return bool(found.get("value"))

    def close(self) -> None:
        self.account.close()


class GraphMailbox:
    """The watched folder of the collabd mailbox, read by delta query."""

    cursor = "sync_state"  # ingest keeps MailboxCursor.sync_state (the delta link) for it

    def __init__(self, account: GraphAccount) -> None:
        self.account = account
        self.settings = account.settings
        self.name = self.settings.name
        self.targets = {
            Outcome.PROCESSED: self.settings.processed_folder,
            Outcome.QUARANTINED: self.settings.quarantine_folder,
        }
        self.resyncs = 0  # times Graph refused our delta link (seen in tests and logs)
        self._newest: str | None = None  # the folder's newest message when a pass began

    @property
    def _messages(self) -> str:
        folder = self.account.folder_id(self.settings.folder)
        return f"{self.account.user_path}/mailFolders/{folder}/messages"

    # --- reading ----------------------------------------------------------------------------
    def fetch(self, since: str | int = "") -> Iterator[IncomingMail]:
        """Mail in the folder changed since the delta link `since` ("" or 0: a new round, all
        of it). The new delta link rides on the last mail: stored when that mail is committed."""
        link = since if isinstance(since, str) and since else ""
        self._newest = self._newest_id()
        try:
            ids, delta_link = self._changes(link)
        except GraphError as exc:
            if not (link and expired_sync_state(exc)):
                raise
            log.warning("%s: delta link refused (%s); starting a new round", self.name, exc)
            self.resyncs += 1
            ids, delta_link = self._changes("")
        pending: IncomingMail | None = None
        for message_id in ids:
            raw = self._mime(message_id)
            if raw is None:  # moved or deleted since the delta page listed it
                continue
            if pending is not None:
                yield pending
            pending = IncomingMail(mailbox=self.name, key=message_id, raw=raw)
        if pending is not None:
            yield replace(pending, sync_state=delta_link)

    def _changes(self, link: str) -> tuple[list[str], str]:
        """Ids of the messages added or changed (in order, once each) and the delta link."""
        start = link or f"{self._messages}/delta?$select=id"
        changed: dict[str, None] = {}
        delta_link = ""
        for page in self.account.client.pages(
            start,
            doing=f"reading the changes of {self.name}",
            headers={"Prefer": f"odata.maxpagesize={DELTA_PAGE}"},
        ):
            for entry in page.get("value", []):
                if "@removed" in entry:
                    changed.pop(entry["id"], None)
                else:
                    changed[entry["id"]] = None
            delta_link = page.get("@odata.deltaLink", delta_link)
        return list(changed), delta_link

    def _mime(self, message_id: str) -> bytes | None:
        try:
            response = self.account.client.request(
                "GET",
                f"{self.account.user_path}/messages/{quote(message_id, safe='')}/$value",
                doing=f"reading message {message_id} of {self.name}",
            )
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise
        return response.content

    def _newest_id(self) -> str | None:
        newest = self.account.client.json(
            "GET",
            f"{self._messages}?$select=id&$top=1&$orderby=receivedDateTime desc",
            doing=f"looking for new mail in {self.name}",
        ).get("value", [])
        return newest[0]["id"] if newest else None

    # --- waiting ----------------------------------------------------------------------------
    def wait_for_new(
        self, timeout: float, stop: threading.Event | None = None, poll: float | None = None
    ) -> bool:
        """Ask for the folder's newest message every `poll` seconds until it is not the one
        the last pass began with, `timeout` passes or `stop` is set. True if new mail came."""
        poll = self.settings.poll_seconds if poll is None else poll
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        while True:
            newest = self._newest_id()
            if newest is not None and newest != self._newest:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or stop.wait(max(0.05, min(poll, remaining))):
                return False

    # --- filing -----------------------------------------------------------------------------
    def ack(self, mail: IncomingMail, outcome: Outcome) -> None:
        self.ack_many([mail], outcome)

    def ack_many(self, mails: list[IncomingMail], outcome: Outcome) -> None:
        """Move mails out of the watched folder; one already moved is not found, fine."""
        if not mails:
            return
        target = self.targets[outcome]
        destination = self.account.folder_id(target, create=True)
        for mail in mails:
            try:
                self.account.client.request(
                    "POST",
                    f"{self.account.user_path}/messages/{quote(mail.key, safe='')}/move",
                    json={"destinationId": destination},
                    doing=f"moving a mail to {target}",
                )
            except GraphError as exc:
                if exc.status == 404:
                    continue
                if exc.status == 400 and "folder" in str(exc).lower():
                    self.account.forget_folders()  # deleted meanwhile: found again next time
                raise

    def close(self) -> None:
        self.account.close()


SENDMAIL_LIMIT = 4 * 1024 * 1024  # sendMail's request, MIME base64-encoded


def upload_attachment(
    account: GraphAccount,
    item_path: str,
    name: str,
    content_type: str,
    content: bytes,
    doing: str,
) -> None:
    """Attach a file over 3 MB to a message or event (`item_path`) by upload session."""
    session = account.client.json(
        "POST",
        f"{item_path}/attachments/createUploadSession",
        json={
            "AttachmentItem": {
                "attachmentType": "file",
                "name": name,
                "size": len(content),
                "contentType": content_type,
            }
        },
        doing=f"{doing}: opening the upload of {name}",
    )
    account.client.upload(session, content, doing=f"{doing}: uploading {name}")


def split_large_files(raw: bytes, limit: int) -> tuple[bytes, list[tuple[str, str, bytes]]]:
    """The MIME without its attached files over `limit` bytes, and those files. The rest of
    the message is written back as it came (compat32 keeps header text as it was)."""
    import email
    import email.header
    import email.policy

    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    files: list[tuple[str, str, bytes]] = []

    def keep(part) -> bool:
        if part.is_multipart() or part.get_filename() is None:
            return True
        if "attachment" not in str(part.get("Content-Disposition", "")).lower():
            return True
        content = part.get_payload(decode=True) or b""
        if len(content) <= limit:
            return True
        name = str(email.header.make_header(email.header.decode_header(part.get_filename())))
        files.append((name, part.get_content_type(), content))
        return False

    for part in message.walk():
        if part.is_multipart():
            part.set_payload([p for p in part.get_payload() if keep(p)])
    return message.as_bytes(), files
