"""The collabd mailbox on Microsoft Exchange, through Exchange Web Services (exchangelib).

Out: every mail is created with CreateItem from the exact MIME bytes collabd composed
(MimeContent, MessageDisposition=SendAndSaveCopy), so its headers, Message-ID and reply token
are byte for byte those an SMTP server would have received; a copy stays in Sent Items.

In: the watched folder is read with SyncFolderItems. The sync state it returns is collabd's
cursor, stored in the ledger (MailboxCursor.sync_state) in the same transaction as the last
mail of the batch it covers, so after downtime an incremental pass resumes where it stopped.
A full pass syncs from no state (everything still in the folder: handled mail has been moved
out). Exchange may refuse an old state (ErrorInvalidSyncStateData): the pass then resyncs
from scratch, and the inbound log's Message-ID key makes every mail seen again a no-op.
Each mail's MIME comes from GetItem; after the ledger commit it is moved (MoveItem) to the
processed or quarantine folder. New mail is noticed through a pull subscription (Subscribe +
GetEvents), the EWS counterpart of IMAP IDLE.

Exchange Online blocks EWS from October 2026 and switches it off in April 2027: this backend
is for on-premises Exchange (see docs/exchange.md).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .base import (
    Envelope,
    IncomingMail,
    Outcome,
    PermanentFailure,
    TemporaryFailure,
    not_in_headers,
)

log = logging.getLogger(__name__)

GET_ITEM_BATCH = 50  # MIME bodies per GetItem request
SYNC_PAGE = 200  # changes per SyncFolderItems request

# EWS response codes that mean "not now" rather than "never" (EWS ResponseCode reference).
TEMPORARY_CODES = frozenset(
    {
        "ErrorServerBusy",
        "ErrorInternalServerTransientError",
        "ErrorTimeoutExpired",
        "ErrorMailboxStoreUnavailable",
        "ErrorMailboxMoveInProgress",
        "ErrorConnectionFailed",
        "ErrorTooManyObjectsOpened",
        "ErrorExceededConnectionCount",
        "ErrorBatchProcessingStopped",
        "ErrorInsufficientResources",
    }
)


@dataclass(frozen=True)
class EwsSettings:
    """How to reach the mailbox; built from [mail.ews] by open_transport."""

    address: str  # the collabd mailbox (primary SMTP address)
    url: str = ""  # https://mail.example.com/EWS/Exchange.asmx; empty: autodiscover
    auth: str = "ntlm"  # basic | ntlm | oauth
    username: str = ""  # DOMAIN\\user or user@domain; empty: the mailbox address
    password: str = ""
    client_id: str = ""  # OAuth (client credentials grant)
    tenant_id: str = ""
    folder: str = "inbox"
    processed_folder: str = "collabd/processed"
    quarantine_folder: str = "collabd/quarantine"
    timeout: float = 60.0
    poll_seconds: float = 10.0  # how often the pull subscription is asked for events

    @property
    def name(self) -> str:
        where = self.url.split("//", 1)[-1].split("/", 1)[0] if self.url else "autodiscover"
        return f"ews://{where}/{self.address}/{self.folder}"


def failure(exc: BaseException, doing: str) -> TemporaryFailure | PermanentFailure:
    """An exchangelib or network error, as collabd's "not now" or "never"."""
    from exchangelib.errors import (
        ErrorServerBusy,
        ResponseMessageError,
        UnauthorizedError,
    )

    name = type(exc).__name__
    if isinstance(exc, ErrorServerBusy):
        # Exchange's throttling: it says how long to stay away (BackOffMilliseconds).
        back_off = float(getattr(exc, "back_off", None) or 0) or None
        told = f", back off {back_off:g}s" if back_off else ""
        error = TemporaryFailure(f"{doing}: Exchange is busy (throttled){told}: {exc}")
        error.retry_after = back_off
        return error
    if isinstance(exc, ResponseMessageError):
        if name in TEMPORARY_CODES:
            return TemporaryFailure(f"{doing}: {name}: {exc}")
        return PermanentFailure(f"{doing}: {name}: {exc}")
    if isinstance(exc, UnauthorizedError):
        # A wrong or expired password is fixed by the admin, not by dropping mail: keep
        # everything queued and say loudly why it does not go.
        return TemporaryFailure(
            f"{doing}: Exchange refused the credentials of [mail.ews] (check username and "
            f"password): {exc}"
        )
    return TemporaryFailure(f"{doing}: {name}: {exc}")


def _exchange_errors() -> tuple[type[BaseException], ...]:
    from exchangelib.errors import EWSError
    from requests.exceptions import RequestException

    return (EWSError, RequestException, OSError)


class EwsAccount:
    """One exchangelib Account, opened on first use and shared by sending and reading."""

    def __init__(self, settings: EwsSettings) -> None:
        self.settings = settings
        self._account: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._account is None:
                try:
                    self._account = self._open()
                except _exchange_errors() as exc:
                    raise failure(exc, f"cannot open {self.settings.name}") from exc
            return self._account

    def _open(self) -> Any:
        from exchangelib import DELEGATE, Account, Configuration, FailFast
        from exchangelib.protocol import BaseProtocol

        s = self.settings
        credentials = self.credentials()
        BaseProtocol.TIMEOUT = s.timeout  # exchangelib reads its HTTP timeout from here
        # FailFast: exchangelib must not sleep through throttling inside a call; collabd
        # turns it into a TemporaryFailure and its own loops decide when to come back.
        if s.url:
            config = Configuration(
                service_endpoint=s.url,
                credentials=credentials,
                auth_type=self.auth_type(),
                retry_policy=FailFast(),
            )
            return Account(
                primary_smtp_address=s.address,
                config=config,
                autodiscover=False,
                access_type=DELEGATE,
            )
        return Account(
            primary_smtp_address=s.address,
            credentials=credentials,
            autodiscover=True,
            access_type=DELEGATE,
            config=Configuration(
                credentials=credentials, auth_type=self.auth_type(), retry_policy=FailFast()
            ),
        )

    def credentials(self) -> Any:
        from exchangelib import Credentials, OAuth2Credentials

        s = self.settings
        if s.auth == "oauth":
            from exchangelib import Identity

            return OAuth2Credentials(
                client_id=s.client_id,
                client_secret=s.password,
                tenant_id=s.tenant_id,
                identity=Identity(primary_smtp_address=s.address),
            )
        return Credentials(username=s.username or s.address, password=s.password)

    def auth_type(self) -> str:
        from exchangelib.transport import BASIC, NTLM, OAUTH2

        return {"basic": BASIC, "ntlm": NTLM, "oauth": OAUTH2}[self.settings.auth]

    def folder(self, path: str, create: bool = False) -> Any:
        """A distinguished folder ("inbox") or a path below the top of the mailbox."""
        from exchangelib.errors import ErrorFolderNotFound
        from exchangelib.folders import Folder

        account = self.get()
        distinguished = {"inbox": "inbox", "sentitems": "sent", "calendar": "calendar"}
        if path.lower() in distinguished:
            return getattr(account, distinguished[path.lower()])
        node = account.msg_folder_root
        for part in [p for p in path.split("/") if p]:
            try:
                node = node // part
            except ErrorFolderNotFound:
                if not create:
                    raise
                child = Folder(parent=node, name=part)
                child.save()
                node = child
        return node

    def close(self) -> None:
        with self._lock:
            account, self._account = self._account, None
        if account is not None:
            with contextlib.suppress(Exception):
                account.protocol.close()


class EwsSender:
    """Outgoing mail through CreateItem with our own MIME bytes."""

    def __init__(self, account: EwsAccount) -> None:
        self.account = account

    @contextlib.contextmanager
    def session(self) -> Iterator[EwsSender]:
        # exchangelib keeps an HTTP session pool; "connecting" is opening the account.
        self.account.get()
        yield self

    def send(self, envelope: Envelope) -> None:
        from exchangelib import Mailbox, Message

        if not envelope.recipients:
            raise PermanentFailure("no recipients")
        account = self.account.get()
        # Exchange takes the recipients from the MIME To/Cc headers; anyone the envelope
        # names besides them (a Bcc) is added as a Bcc recipient.
        extra = not_in_headers(envelope.raw, envelope.recipients)
        message = Message(
            account=account,
            folder=account.sent,
            mime_content=envelope.raw,
            bcc_recipients=[Mailbox(email_address=a) for a in extra] or None,
        )
        try:
            message.send_and_save()
        except _exchange_errors() as exc:
            raise failure(exc, f"sending {envelope.message_id or 'a mail'}") from exc

    def close(self) -> None:
        self.account.close()


class EwsMailbox:
    """The watched folder of the collabd mailbox, read with SyncFolderItems."""

    cursor = "sync_state"  # ingest keeps MailboxCursor.sync_state for this transport

    def __init__(self, account: EwsAccount) -> None:
        self.account = account
        self.settings = account.settings
        self.name = self.settings.name
        self.targets = {
            Outcome.PROCESSED: self.settings.processed_folder,
            Outcome.QUARANTINED: self.settings.quarantine_folder,
        }
        self._folders: dict[str, Any] = {}
        self._subscription: tuple[str, str] | None = None  # (id, watermark)
        self.resyncs = 0  # times Exchange refused our sync state (seen in tests and logs)

    def _folder(self, path: str, create: bool = False) -> Any:
        if path not in self._folders:
            self._folders[path] = self.account.folder(path, create=create)
        return self._folders[path]

    # --- reading ----------------------------------------------------------------------------
    def fetch(self, since: str | int = "") -> Iterator[IncomingMail]:
        """Mail created in the folder since the sync state `since` ("" or 0: all of it).
        The new sync state rides on the last mail: stored when that mail is committed."""
        state = since if isinstance(since, str) else ""
        try:
            # Subscribe before syncing: mail that lands between this sync and the first
            # GetEvents then still raises an event, instead of waiting for the next rescan.
            self._subscribe()
            ids, new_state = self._changes(state)
        except _exchange_errors() as exc:
            from exchangelib.errors import ErrorInvalidSyncStateData

            if not (state and isinstance(exc, ErrorInvalidSyncStateData)):
                self._drop()
                raise failure(exc, f"syncing {self.name}") from exc
            # Exchange no longer knows that state (expired, or the folder was rebuilt).
            log.warning("%s: sync state refused (%s); resyncing the whole folder", self.name, exc)
            self.resyncs += 1
            try:
                ids, new_state = self._changes("")
            except _exchange_errors() as again:
                self._drop()
                raise failure(again, f"resyncing {self.name}") from again
        for start in range(0, len(ids), GET_ITEM_BATCH):
            batch = ids[start : start + GET_ITEM_BATCH]
            last_batch = start + GET_ITEM_BATCH >= len(ids)
            mails = self._mime(batch)
            for index, (item_id, raw) in enumerate(mails):
                last = last_batch and index == len(mails) - 1
                yield IncomingMail(
                    mailbox=self.name,
                    key=item_id,
                    raw=raw,
                    sync_state=new_state if last else None,
                )

    def _changes(self, state: str) -> tuple[list[tuple[str, str]], str]:
        folder = self._folder(self.settings.folder)
        # exchangelib falls back to the state its folder object remembers when given none:
        # a full sync must really start from nothing.
        folder.item_sync_state = state or None
        created: dict[str, str] = {}
        for change, item in folder.sync_items(
            sync_state=state or None,
            only_fields=["id", "changekey"],
            max_changes_returned=SYNC_PAGE,
        ):
            if change == "create":
                created[item.id] = item.changekey
            elif change == "delete":
                created.pop(item.id, None)
        return list(created.items()), folder.item_sync_state

    def _mime(self, batch: list[tuple[str, str]]) -> list[tuple[str, bytes]]:
        from exchangelib.errors import ErrorItemNotFound

        account = self.account.get()
        try:
            found = list(account.fetch(ids=batch, only_fields=["mime_content"]))
        except _exchange_errors() as exc:
            self._drop()
            raise failure(exc, f"reading mail from {self.name}") from exc
        mails = []
        for (item_id, _), item in zip(batch, found, strict=True):
            if isinstance(item, ErrorItemNotFound):  # moved away meanwhile
                continue
            if isinstance(item, Exception):
                raise failure(item, f"reading {item_id} from {self.name}")
            mails.append((item_id, bytes(item.mime_content or b"")))
        return mails

    # --- waiting ----------------------------------------------------------------------------
    def wait_for_new(
        self, timeout: float, stop: threading.Event | None = None, poll: float | None = None
    ) -> bool:
        """Ask the pull subscription for events every `poll` seconds until new mail shows up,
        `timeout` passes or `stop` is set. True if new mail (or a lost subscription, after
        which mail may have been missed) was seen."""
        poll = self.settings.poll_seconds if poll is None else poll
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._new_events():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or stop.wait(max(0.05, min(poll, remaining))):
                    return False
        except _exchange_errors() as exc:
            self._drop()
            raise failure(exc, f"waiting for mail in {self.name}") from exc

    def _subscribe(self) -> tuple[str, str]:
        if self._subscription is None:
            self._subscription = self._folder(self.settings.folder).subscribe_to_pull(
                event_types=["NewMailEvent", "CreatedEvent", "MovedEvent"], timeout=30
            )
        return self._subscription

    def _new_events(self) -> bool:
        from exchangelib.errors import ErrorSubscriptionNotFound
        from exchangelib.properties import CreatedEvent, MovedEvent, NewMailEvent

        folder = self._folder(self.settings.folder)
        subscription, watermark = self._subscribe()
        new = False
        try:
            for notification in folder.get_events(subscription, watermark):
                for event in notification.events:
                    watermark = event.watermark or watermark
                    if isinstance(event, NewMailEvent | CreatedEvent | MovedEvent):
                        new = True
        except ErrorSubscriptionNotFound:
            # The server dropped the subscription (it expires without GetEvents): events
            # may be lost, so say "new" and let the caller sync.
            self._subscription = None
            return True
        self._subscription = (subscription, watermark)
        return new

    # --- filing -----------------------------------------------------------------------------
    def ack(self, mail: IncomingMail, outcome: Outcome) -> None:
        self.ack_many([mail], outcome)

    def ack_many(self, mails: list[IncomingMail], outcome: Outcome) -> None:
        """Move mails out of the watched folder in one MoveItem; one already moved is not
        found, which is fine."""
        if not mails:
            return
        account = self.account.get()
        target = self.targets[outcome]
        try:
            folder = self._folder(target, create=True)
            results = account.bulk_move(ids=[(m.key, None) for m in mails], to_folder=folder)
        except _exchange_errors() as exc:
            self._drop()
            raise failure(exc, f"moving {len(mails)} mail(s) to {target}") from exc
        from exchangelib.errors import ErrorItemNotFound

        for result in results:
            if isinstance(result, Exception) and not isinstance(result, ErrorItemNotFound):
                raise failure(result, f"moving mail to {target}")

    def _drop(self) -> None:
        """After an error, forget folder handles and the subscription; the account's HTTP
        pool reconnects by itself."""
        self._folders.clear()
        self._subscription = None

    def close(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None and self.account._account is not None:
            with contextlib.suppress(Exception):
                self._folder(self.settings.folder).unsubscribe(subscription[0])
        self.account.close()
