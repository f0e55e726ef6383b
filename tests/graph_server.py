"""A loopback HTTPS server that answers Microsoft Graph and Microsoft identity platform
requests: a PROTOCOL-LEVEL TEST FIXTURE, NOT A LIVE MICROSOFT 365 TENANT.

No Microsoft 365 tenant exists on this machine (nor may tests reach one), so the Graph
tests point collabd (and msal) at this server instead. It answers with bodies shaped like
the examples on Microsoft's Graph reference pages:

- sign-in: the tenant's OpenID configuration and the v2.0 token endpoint (client
  credentials grant; `invalid_client` AADSTS7000215 for a wrong secret); Graph answers 401
  InvalidAuthenticationToken for a token it did not issue or has expired;
- mail: message delta (`/mailFolders/{id}/messages/delta`) with pages of at most
  `Prefer: odata.maxpagesize`, `@odata.nextLink` ($skiptoken) and `@odata.deltaLink`
  ($deltatoken), `@removed` entries for mail that left the folder, and 410 Gone
  `syncStateNotFound` for a delta token it no longer knows; `/messages/{id}/$value` (MIME),
  `/messages/{id}/move` (201, a new id, as Exchange gives moved items), child folders
  (`$filter=displayName eq '…'`, 201 on create, 409 ErrorFolderExists), folder messages
  (`$top`/`$orderby=receivedDateTime desc`, `$filter=internetMessageId eq '…'`) and
  `/sendMail` with a base64 MIME body (202, a copy in Sent Items; 400
  ErrorMimeContentInvalidBase64String, ErrorInvalidRecipients);
- calendar: events created (201; `transactionId` makes a retried create return the first
  event), read, filtered on a single-value extended property or on iCalUId, updated (PATCH),
  cancelled (`/cancel`, 202), file attachments (201; over 3 MB 413), and
  `/calendar/getSchedule` (scheduleItems, availabilityView, per-schedule `error` for an
  unknown mailbox);
- large files, as Microsoft documents: `attachments/createUploadSession` on an event or a
  draft message (201, a pre-authenticated `uploadUrl`, `nextExpectedRanges`), chunk PUTs
  with Content-Range in multiples of 320 KiB and no Authorization header (200 with the next
  range, 201 at the end; 416 for a wrong range), drafts made from MIME (`POST /messages`,
  text/plain base64, 201, saved in Drafts), `/messages/{id}/send` (202) and
  `DELETE /messages/{id}` (204, to Deleted Items); sendMail over 4 MB is 413;
- throttling and outages: 429 TooManyRequests / 503 ServiceUnavailable with Retry-After,
  and a connection dropped after the request was taken.

Exchange sends invitations, updates and cancellations itself when the organizer's event
changes; the fixture records them in `invitations` instead of mailing anyone. State lives in
memory (`Tenant`); tests drop mail into a folder with `deliver()`, look at `sent`, `events`,
`invitations`, let attendees answer with `respond()` and set free/busy with `busy()`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email
import email.message
import email.policy
import itertools
import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass
from email.utils import getaddresses, make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

WELL_KNOWN = ("inbox", "sentitems", "drafts", "deleteditems", "calendar", "msgfolderroot")
DEFAULT_PAGE = 10  # Graph's page size for message delta without a Prefer header


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (the tests trust it through
    REQUESTS_CA_BUNDLE, as an admin would trust a company proxy's CA)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "graph.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "graph-cert.pem", directory / "graph-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None
    well_known: str | None = None


@dataclass
class Message:
    id: str
    folder: str
    mime: bytes
    internet_message_id: str
    seq: int
    received: str


@dataclass
class Sent:
    mime: bytes  # as Graph received it (a Bcc header included, if any)
    to: list[str]
    bcc: list[str]

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.mime, policy=email.policy.default)


@dataclass
class Invitation:
    """What Exchange mailed the attendees on the organizer's behalf."""

    event_id: str
    kind: str  # request | update | cancel
    attendees: list[str]
    attachments: list[str]


@dataclass
class BusyItem:
    start: dt.datetime
    end: dt.datetime
    status: str = "busy"  # free | tentative | busy | oof | workingElsewhere
    subject: str = ""


# Microsoft's limits on a request that carries a file whole: sendMail's MIME (4 MB) and an
# attachment's contentBytes (3 MB); larger ones go through an upload session.
SENDMAIL_LIMIT = 4 * 1024 * 1024
INLINE_FILE_LIMIT = 3 * 1024 * 1024


class GraphFault(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class Tenant:
    """One tenant with one mailbox (the collabd mailbox), shared by the request threads."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.tenant_id = "8f7e6d5c-1111-4222-8333-944455556666"
        self.client_id = "0a1b2c3d-aaaa-4bbb-8ccc-ddddeeeeffff"
        self.client_secret = "Gr~aph.S3cret_value"
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.seq = 0
        self.generation = 1  # bumped to expire every delta token handed out
        self.folders: dict[str, Folder] = {}
        self.messages: dict[str, Message] = {}
        self.removed: list[tuple[int, str, str]] = []  # (seq, folder id, message id)
        self.sent: list[Sent] = []
        self.drafts: dict[str, dict] = {}  # message id -> {"mime": bytes, "files": [...]}
        self.uploads: dict[str, dict] = {}  # upload session id -> what it fills, and how far
        self.upload_puts: list[dict] = []  # each chunk PUT: its Content-Range, Authorization
        self.events: dict[str, dict] = {}
        self.attachments: dict[str, list[dict]] = {}
        self.invitations: list[Invitation] = []
        self.schedules: dict[str, list[BusyItem]] = {}
        self.unknown_mailboxes: set[str] = set()
        self.requests: list[str] = []  # "METHOD path" of every Graph request, in order
        self.schedule_requests: list[dict] = []  # getSchedule bodies, as sent
        self.faults: list[tuple[str, str, int, int | None]] = []
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.rejected_recipients: set[str] = set()
        root = self._folder("Top of Information Store", None, "msgfolderroot")
        for name, well_known in (
            ("Inbox", "inbox"),
            ("Sent Items", "sentitems"),
            ("Drafts", "drafts"),
            ("Deleted Items", "deleteditems"),
            ("Calendar", "calendar"),
        ):
            self._folder(name, root.id, well_known)

    # --- what tests use ---------------------------------------------------------------------
    def folder(self, well_known_or_path: str) -> Folder:
        with self.lock:
            for f in self.folders.values():
                if f.well_known == well_known_or_path.lower() or f.id == well_known_or_path:
                    return f
            node = self.folder("msgfolderroot")
            for part in well_known_or_path.split("/"):
                node = next(
                    f
                    for f in self.folders.values()
                    if f.parent == node.id and f.name.lower() == part.lower()
                )
            return node

    def deliver(self, raw: bytes, folder: str = "inbox") -> Message:
        """A mail arrives (as Exchange's transport would put it there)."""
        with self.lock:
            parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
            message = Message(
                id=self._new_id("AAMkAGMessage"),
                folder=self.folder(folder).id,
                mime=raw,
                internet_message_id=str(parsed.get("Message-ID", "")).strip(),
                seq=0,
                received=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            )
            self._arrive(message)
            return message

    def in_folder(self, well_known_or_path: str) -> list[Message]:
        with self.lock:
            target = self.folder(well_known_or_path).id
            return sorted(
                (m for m in self.messages.values() if m.folder == target), key=lambda m: m.seq
            )

    def fail_next(
        self,
        status: int | str,
        path_part: str = "",
        method: str = "",
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """status: 429, 503, 500 … or "drop" (take the request, then close the connection
        without an answer) or "reset" (close it without taking the request)."""
        with self.lock:
            self.faults += [(str(status), path_part, method, retry_after)] * times

    def expire_delta_tokens(self) -> None:
        with self.lock:
            self.generation += 1

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def busy(self, address: str, start: dt.datetime, end: dt.datetime, status: str = "busy"):
        with self.lock:
            self.schedules.setdefault(address.lower(), []).append(BusyItem(start, end, status))

    def event_by_property(self, value: str) -> dict:
        with self.lock:
            return next(
                e
                for e in self.events.values()
                if any(p["value"] == value for p in e.get("singleValueExtendedProperties", []))
            )

    def respond(
        self,
        event_id: str,
        attendee: str,
        response: str,
        proposed: tuple[str, str] | None = None,
        deliver: bool = False,
    ) -> Message | None:
        """An attendee answered (accepted, declined, tentativelyAccepted); Exchange records
        it on the organizer's event and, with `deliver`, drops the meeting response mail
        (its iCalendar part carries the event's iCalUId) into the organizer's inbox."""
        with self.lock:
            event = self.events[event_id]
            person = next(
                a
                for a in event["attendees"]
                if a["emailAddress"]["address"].lower() == attendee.lower()
            )
            person["status"] = {"response": response, "time": _now_iso()}
            if proposed:
                person["proposedNewTime"] = {
                    "start": {"dateTime": proposed[0], "timeZone": "UTC"},
                    "end": {"dateTime": proposed[1], "timeZone": "UTC"},
                }
            event["changeKey"] = self._new_id("CK")
            if not deliver:
                return None
            return self.deliver(_meeting_response_mime(event, attendee, response, self.address))

    # --- internals --------------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        raw = f"{prefix}-{next(self._ids)}-{uuid.uuid4().hex[:12]}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _folder(self, name: str, parent: str | None, well_known: str | None = None) -> Folder:
        folder = Folder(self._new_id("AAMkAGFolder"), name, parent, well_known)
        self.folders[folder.id] = folder
        return folder

    def _arrive(self, message: Message) -> None:
        self.seq += 1
        message.seq = self.seq
        self.messages[message.id] = message

    def _remove(self, message: Message) -> None:
        self.seq += 1
        self.removed.append((self.seq, message.folder, message.id))
        del self.messages[message.id]

    def _take_fault(self, method: str, path: str) -> tuple[str, int | None] | None:
        for index, (status, part, wanted, retry) in enumerate(self.faults):
            if part in path and wanted in ("", method):
                del self.faults[index]
                return status, retry
        return None


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _meeting_response_mime(event: dict, attendee: str, response: str, organizer: str) -> bytes:
    """The MIME Exchange gives a meeting response: text and the iCalendar REPLY (or COUNTER
    for a new time proposed), with the event's iCalUId as UID."""
    partstat = {"accepted": "ACCEPTED", "declined": "DECLINED", "tentativelyAccepted": "TENTATIVE"}
    prefix = {"accepted": "Accepted", "declined": "Declined", "tentativelyAccepted": "Tentative"}
    person = next(
        a for a in event["attendees"] if a["emailAddress"]["address"].lower() == attendee.lower()
    )
    method = "COUNTER" if "proposedNewTime" in person else "REPLY"
    ical = (
        f"BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nPRODID:Microsoft Exchange Server 2010\r\n"
        "VERSION:2.0\r\nBEGIN:VEVENT\r\n"
        f"ATTENDEE;PARTSTAT={partstat[response]}:mailto:{attendee}\r\n"
        f"SUMMARY;LANGUAGE=zh-CN:{prefix[response]}: {event['subject']}\r\n"
        f"UID:{event['iCalUId']}\r\nSEQUENCE:0\r\nDTSTAMP:20261123T020000Z\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    boundary = "_000_graph_response_"
    subject = f"{prefix[response]}: {event['subject']}"
    return (
        f"From: <{attendee}>\r\nTo: <{organizer}>\r\n"
        f"Subject: =?utf-8?b?{base64.b64encode(subject.encode()).decode()}?=\r\n"
        f"Message-ID: {make_msgid(domain='outlook.test')}\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\r\n"
        f'--{boundary}\r\nContent-Type: text/calendar; charset="utf-8"; method={method}\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{base64.encodebytes(ical.encode()).decode()}\r\n--{boundary}--\r\n"
    ).encode()


def _error(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


def _token(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _untoken(value: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


# --- Graph -------------------------------------------------------------------------------------


class Graph:
    """The Graph operations; each returns (status, JSON body or bytes)."""

    def __init__(self, tenant: Tenant, base: str) -> None:
        self.t, self.base = tenant, base

    def route(self, method: str, path: str, query: dict, body: bytes, headers) -> tuple:
        user = f"/v1.0/users/{self.t.address}"
        if not path.lower().startswith(user.lower()):
            return _error(404, "ErrorInvalidUser", f"The requested user '{path}' is invalid.")
        # OData key syntax (mailFolders('id')) as the delta links use it, or path segments
        rest = re.sub(r"\('([^']*)'\)", r"/\1", path[len(user) :])
        for pattern, verb, handler in (
            (r"/mailFolders/([^/]+)/messages/delta", "GET", self.delta),
            (r"/mailFolders/([^/]+)/messages", "GET", self.folder_messages),
            (r"/mailFolders/([^/]+)/childFolders", "GET", self.child_folders),
            (r"/mailFolders/([^/]+)/childFolders", "POST", self.create_folder),
            (r"/messages/([^/]+)/\$value", "GET", self.mime),
            (r"/messages/([^/]+)/move", "POST", self.move),
            (r"/sendMail", "POST", self.send_mail),
            (r"/messages", "POST", self.create_draft),
            (r"/messages/([^/]+)/attachments/createUploadSession", "POST", self.message_upload),
            (r"/messages/([^/]+)/send", "POST", self.send_draft),
            (r"/messages/([^/]+)", "DELETE", self.delete_message),
            (r"/events/([^/]+)/attachments/createUploadSession", "POST", self.event_upload),
            (r"/(?:calendar/)?events", "POST", self.create_event),
            (r"/(?:calendar/)?events", "GET", self.list_events),
            (r"/events/([^/]+)", "GET", self.get_event),
            (r"/events/([^/]+)", "PATCH", self.update_event),
            (r"/events/([^/]+)/cancel", "POST", self.cancel_event),
            (r"/events/([^/]+)/attachments", "POST", self.add_attachment),
            (r"/events/([^/]+)/attachments", "GET", self.list_attachments),
            (r"/calendar/getSchedule", "POST", self.get_schedule),
        ):
            match = re.fullmatch(pattern, rest)
            if match and verb == method:
                return handler(*match.groups(), query=query, body=body, headers=headers)
        return _error(400, "BadRequest", f"Resource not found for the segment '{rest}'.")

    # --- mail ---------------------------------------------------------------------------------
    def _folder(self, ref: str) -> Folder:
        ref = unquote(ref).strip("'")
        try:
            return self.t.folder(ref)
        except StopIteration:
            raise GraphFault(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            ) from None

    def delta(self, ref: str, *, query, headers, **_) -> tuple:
        page_size = DEFAULT_PAGE
        prefer = re.search(r"odata\.maxpagesize=(\d+)", headers.get("Prefer", ""))
        if prefer:
            page_size = int(prefer.group(1))
        folder = self._folder(ref)
        if "$deltatoken" in query:
            state = _untoken(query["$deltatoken"])
            if state["g"] != self.t.generation or state["f"] != folder.id:
                raise GraphFault(
                    410,
                    "syncStateNotFound",
                    "The sync state generation is not found. The delta token is expired and "
                    "data must be synchronized again.",
                )
            window = {"since": state["seq"], "upto": self.t.seq, "offset": 0}
        elif "$skiptoken" in query:
            window = _untoken(query["$skiptoken"])
            if window["g"] != self.t.generation:
                raise GraphFault(
                    410, "syncStateNotFound", "The sync state generation is not found."
                )
        else:
            window = {"since": None, "upto": self.t.seq, "offset": 0}
        window["g"] = self.t.generation
        entries = self._delta_entries(folder, window["since"], window["upto"])
        page = entries[window["offset"] : window["offset"] + page_size]
        link = f"{self.base}/v1.0/users/{self.t.address}/mailFolders('{folder.id}')/messages/delta"
        body: dict = {"@odata.context": f"{self.base}/v1.0/$metadata#Collection(message)"}
        if window["offset"] + page_size < len(entries):
            following = dict(window, offset=window["offset"] + page_size)
            body["@odata.nextLink"] = f"{link}?$skiptoken={_token(following)}"
        else:
            state = {"g": self.t.generation, "f": folder.id, "seq": window["upto"]}
            body["@odata.deltaLink"] = f"{link}?$deltatoken={_token(state)}"
        body["value"] = page
        return 200, body, {"Preference-Applied": f"odata.maxpagesize={page_size}"}

    def _delta_entries(self, folder: Folder, since: int | None, upto: int) -> list[dict]:
        present = [
            m
            for m in self.t.in_folder(folder.id)
            if m.seq <= upto and (since is None or m.seq > since)
        ]
        entries = [
            {
                "@odata.type": "#microsoft.graph.message",
                "@odata.etag": f'W/"CQAAABYAAAA{m.seq:08d}"',
                "id": m.id,
            }
            for m in present
        ]
        if since is not None:
            entries += [
                {
                    "@odata.type": "#microsoft.graph.message",
                    "id": mid,
                    "@removed": {"reason": "deleted"},
                }
                for seq, fid, mid in self.t.removed
                if fid == folder.id and since < seq <= upto
            ]
        return entries

    def folder_messages(self, ref: str, *, query, **_) -> tuple:
        folder = self._folder(ref)
        found = self.t.in_folder(folder.id)
        match = re.fullmatch(r"internetMessageId eq '(.*)'", query.get("$filter", ""))
        if match:
            wanted = match.group(1).replace("''", "'")
            found = [m for m in found if m.internet_message_id == wanted]
        if query.get("$orderby") == "receivedDateTime desc":
            found = list(reversed(found))
        found = found[: int(query.get("$top", 10))]
        return 200, {
            "@odata.context": f"{self.base}/v1.0/$metadata#users('{self.t.address}')"
            f"/mailFolders('{folder.id}')/messages(id)",
            "value": [{"@odata.etag": f'W/"{m.seq}"', "id": m.id} for m in found],
        }

    def _folder_json(self, folder: Folder) -> dict:
        count = len(self.t.in_folder(folder.id))
        return {
            "id": folder.id,
            "displayName": folder.name,
            "parentFolderId": folder.parent,
            "childFolderCount": sum(1 for f in self.t.folders.values() if f.parent == folder.id),
            "unreadItemCount": count,
            "totalItemCount": count,
            "isHidden": False,
        }

    def child_folders(self, ref: str, *, query, **_) -> tuple:
        parent = self._folder(ref)
        children = [f for f in self.t.folders.values() if f.parent == parent.id]
        match = re.fullmatch(r"displayName eq '(.*)'", query.get("$filter", ""))
        if match:
            name = match.group(1).replace("''", "'")
            children = [f for f in children if f.name.lower() == name.lower()]
        return 200, {"value": [self._folder_json(f) for f in children]}

    def create_folder(self, ref: str, *, body, **_) -> tuple:
        parent = self._folder(ref)
        name = json.loads(body)["displayName"]
        if any(
            f.parent == parent.id and f.name.lower() == name.lower()
            for f in self.t.folders.values()
        ):
            return _error(
                409, "ErrorFolderExists", "A folder with the specified name already exists."
            )
        return 201, self._folder_json(self.t._folder(name, parent.id))

    def mime(self, message_id: str, **_) -> tuple:
        message = self.t.messages.get(unquote(message_id))
        if message is None:
            return _error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return 200, message.mime, {"Content-Type": "text/plain"}

    def move(self, message_id: str, *, body, **_) -> tuple:
        message = self.t.messages.get(unquote(message_id))
        if message is None:
            return _error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        target = self._folder(json.loads(body)["destinationId"])
        self.t._remove(message)
        moved = Message(
            self.t._new_id("AAMkAGMessage"),
            target.id,
            message.mime,
            message.internet_message_id,
            0,
            message.received,
        )
        self.t._arrive(moved)
        return 201, {
            "@odata.context": f"{self.base}/v1.0/$metadata#users('{self.t.address}')"
            "/messages/$entity",
            "id": moved.id,
            "parentFolderId": target.id,
            "internetMessageId": moved.internet_message_id,
        }

    def send_mail(self, *, body, headers, **_) -> tuple:
        if not headers.get("Content-Type", "").startswith("text/plain"):
            return _error(
                400, "ErrorMimeContentInvalid", "The MIME content must be text/plain base64."
            )
        try:
            mime = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return _error(
                400,
                "ErrorMimeContentInvalidBase64String",
                "Invalid base64 string for MIME content.",
            )
        if len(body) > SENDMAIL_LIMIT:
            return _error(
                413,
                "ErrorRequestEntityTooLarge",
                "The request exceeds the 4 MB limit for sendMail: use an upload session.",
            )
        return self._send_mime(mime)

    def _send_mime(self, mime: bytes) -> tuple:
        parsed = email.message_from_bytes(mime, policy=email.policy.compat32)
        to = [a for _, a in getaddresses(parsed.get_all("To", []) + parsed.get_all("Cc", []))]
        bcc = [a for _, a in getaddresses(parsed.get_all("Bcc", []))]
        if any(a.lower() in self.t.rejected_recipients for a in to + bcc):
            return _error(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient isn't valid., A message can't be sent because it "
                "contains no recipients.",
            )
        self.t.sent.append(Sent(mime, to, bcc))
        self.t.deliver(mime, "sentitems")
        return 202, b""

    # --- large mail: a draft from MIME, files by upload session, then /send ---------------
    def create_draft(self, *, body, headers, **_) -> tuple:
        if not headers.get("Content-Type", "").startswith("text/plain"):
            return _error(400, "ErrorMimeContentInvalid", "The MIME content must be base64.")
        if len(body) > SENDMAIL_LIMIT:
            return _error(413, "ErrorRequestEntityTooLarge", "The request exceeds 4 MB.")
        mime = base64.b64decode(body)
        parsed = email.message_from_bytes(mime, policy=email.policy.compat32)
        draft = Message(  # Graph saves a new message in Drafts
            self.t._new_id("AAMkAGDraft"),
            self.t.folder("drafts").id,
            mime,
            str(parsed["Message-ID"] or "").strip(),
            0,
            _now_iso(),
        )
        self.t._arrive(draft)
        draft_id = draft.id
        self.t.drafts[draft_id] = {"mime": mime, "files": []}
        return 201, {
            "@odata.context": f"{self.base}/v1.0/$metadata#users('{self.t.address}')/messages"
            "/$entity",
            "id": draft_id,
            "isDraft": True,
            "internetMessageId": str(parsed["Message-ID"] or ""),
            "subject": str(parsed["Subject"] or ""),
        }

    def message_upload(self, message_id: str, *, body, **_) -> tuple:
        if message_id not in self.t.drafts:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        return self._upload_session(("message", message_id), json.loads(body))

    def event_upload(self, event_id: str, *, body, **_) -> tuple:
        event = self._event(event_id)
        return self._upload_session(("event", event["id"]), json.loads(body))

    def _upload_session(self, target: tuple[str, str], spec: dict) -> tuple:
        item = spec.get("AttachmentItem") or {}
        if item.get("attachmentType") != "file" or not item.get("name") or not item.get("size"):
            return _error(400, "ErrorInvalidRequest", "AttachmentItem needs name and size.")
        session_id = uuid.uuid4().hex
        self.t.uploads[session_id] = {"target": target, **item, "received": bytearray()}
        return 201, {
            "@odata.context": f"{self.base}/v1.0/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": f"{self.base}/upload/AttachmentSessions('{session_id}')"
            f"?authtoken={uuid.uuid4().hex}",
            "expirationDateTime": "2026-12-31T00:00:00.0000000Z",
            "nextExpectedRanges": ["0-"],
        }

    def upload_chunk(self, session_id: str, body: bytes, headers) -> tuple:
        """PUT to the pre-authenticated upload URL: 200 with the next range expected, 201
        once the last byte is in (the attachment then exists)."""
        session = self.t.uploads.get(session_id)
        self.t.upload_puts.append(
            {"range": headers.get("Content-Range", ""), "auth": headers.get("Authorization")}
        )
        if session is None:
            return _error(404, "ErrorItemNotFound", "The upload session was not found.")
        if headers.get("Authorization"):
            return _error(401, "InvalidAuthenticationToken", "Do not send a bearer token here.")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("Content-Range", ""))
        received = session["received"]
        if (
            not match
            or int(match[1]) != len(received)
            or int(match[2]) - int(match[1]) + 1 != len(body)
            or int(match[3]) != session["size"]
            or (len(body) % (320 * 1024) and int(match[2]) + 1 != session["size"])
        ):
            return _error(416, "InvalidRange", "The Content-Range is not the one expected.")
        received += body
        if len(received) < session["size"]:
            return 200, {
                "expirationDateTime": "2026-12-31T00:00:00.0000000Z",
                "nextExpectedRanges": [f"{len(received)}-"],
            }
        del self.t.uploads[session_id]
        kind, target = session["target"]
        attachment = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "id": self.t._new_id("AAMkAGAttachment"),
            "name": session["name"],
            "contentType": session.get("contentType", "application/octet-stream"),
            "size": len(received),
            "isInline": False,
            "contentBytes": base64.b64encode(bytes(received)).decode(),
        }
        if kind == "event":
            self.t.attachments[target].append(attachment)
        else:
            self.t.drafts[target]["files"].append(attachment)
        return 201, b""

    def delete_message(self, message_id: str, **_) -> tuple:
        """DELETE /messages/{id}: 204; the message goes to Deleted Items, as Outlook's delete."""
        message = self.t.messages.get(unquote(message_id))
        if message is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        self.t.drafts.pop(message.id, None)
        self.t._remove(message)
        message.folder = self.t.folder("deleteditems").id
        self.t._arrive(message)
        return 204, b""

    def send_draft(self, message_id: str, **_) -> tuple:
        draft = self.t.drafts.pop(message_id, None)
        if draft is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        self.t._remove(self.t.messages[message_id])  # out of Drafts; the copy is in Sent Items
        message = email.message_from_bytes(draft["mime"], policy=email.policy.compat32)
        for file in draft["files"]:
            part = email.message.Message()
            part["Content-Type"] = file["contentType"]
            part["Content-Transfer-Encoding"] = "base64"
            part.add_header(
                "Content-Disposition", "attachment", filename=("utf-8", "", file["name"])
            )
            part.set_payload(file["contentBytes"])
            message.attach(part)
        return self._send_mime(message.as_bytes())

    # --- calendar -----------------------------------------------------------------------------
    def _event_out(self, event: dict, query: dict | None = None) -> dict:
        out = {k: v for k, v in event.items() if k != "singleValueExtendedProperties"}
        expand = (query or {}).get("$expand", "")
        match = re.search(r"singleValueExtendedProperties\(\$filter=id eq '(.*?)'\)", expand)
        if match:
            out["singleValueExtendedProperties"] = [
                p
                for p in event.get("singleValueExtendedProperties", [])
                if p["id"] == match.group(1)
            ]
        return out

    def _attendees(self, given: list[dict], old: list[dict]) -> list[dict]:
        known = {a["emailAddress"]["address"].lower(): a for a in old}
        out = []
        for a in given:
            address = a["emailAddress"]["address"]
            kept = known.get(address.lower())
            out.append(
                {
                    "type": a.get("type", "required"),
                    "status": kept["status"]
                    if kept
                    else {"response": "none", "time": "0001-01-01T00:00:00Z"},
                    "emailAddress": {
                        "name": a["emailAddress"].get("name", address),
                        "address": address,
                    },
                    **(
                        {"proposedNewTime": kept["proposedNewTime"]}
                        if kept and "proposedNewTime" in kept
                        else {}
                    ),
                }
            )
        return out

    def create_event(self, *, body, **_) -> tuple:
        spec = json.loads(body)
        transaction = spec.get("transactionId")
        for event in self.t.events.values():
            if transaction and event.get("transactionId") == transaction:
                return 201, self._event_out(event)
        event_id = self.t._new_id("AAMkAGEvent")
        event = {
            "@odata.etag": 'W/"DwAAABYAAAA"',
            "id": event_id,
            "createdDateTime": _now_iso(),
            "changeKey": self.t._new_id("CK"),
            "transactionId": transaction,
            "iCalUId": "040000008200E00074C5B7101A82E00800000000" + uuid.uuid4().hex.upper(),
            "subject": spec.get("subject", ""),
            "body": spec.get("body", {"contentType": "text", "content": ""}),
            "start": spec["start"],
            "end": spec["end"],
            "location": spec.get("location", {"displayName": ""}),
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": True,
            "organizer": {"emailAddress": {"name": "collabd", "address": self.t.address}},
            "attendees": self._attendees(spec.get("attendees", []), []),
            "singleValueExtendedProperties": spec.get("singleValueExtendedProperties", []),
        }
        self.t.events[event_id] = event
        self.t.attachments[event_id] = []
        if event["attendees"]:
            self._invite(event, "request")
        return 201, self._event_out(event)

    def _invite(self, event: dict, kind: str) -> None:
        self.t.invitations.append(
            Invitation(
                event["id"],
                kind,
                [a["emailAddress"]["address"] for a in event["attendees"]],
                [a["name"] for a in self.t.attachments.get(event["id"], [])],
            )
        )

    def list_events(self, *, query, **_) -> tuple:
        events = [e for e in self.t.events.values() if not e["isCancelled"]]
        flt = query.get("$filter", "")
        by_property = re.fullmatch(
            r"singleValueExtendedProperties/Any\(ep: ep/id eq '(.*?)' and ep/value eq '(.*)'\)", flt
        )
        by_uid = re.fullmatch(r"iCalUId eq '(.*)'", flt)
        if by_property:
            pid, value = by_property.group(1), by_property.group(2).replace("''", "'")
            events = [
                e
                for e in events
                if any(
                    p["id"] == pid and p["value"] == value
                    for p in e["singleValueExtendedProperties"]
                )
            ]
        elif by_uid:
            events = [e for e in events if e["iCalUId"] == by_uid.group(1)]
        elif flt:
            return _error(
                400,
                "ErrorInvalidUrlQueryFilter",
                "The query filter contains one or more invalid nodes.",
            )
        return 200, {"value": [self._event_out(e, query) for e in events]}

    def _event(self, event_id: str) -> dict:
        event = self.t.events.get(unquote(event_id))
        if event is None or event["isCancelled"]:
            raise GraphFault(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return event

    def get_event(self, event_id: str, *, query, **_) -> tuple:
        return 200, self._event_out(self._event(event_id), query)

    def update_event(self, event_id: str, *, body, **_) -> tuple:
        event = self._event(event_id)
        spec = json.loads(body)
        had_attendees = bool(event["attendees"])
        for key in ("subject", "body", "start", "end", "location"):
            if key in spec:
                event[key] = spec[key]
        if "attendees" in spec:
            event["attendees"] = self._attendees(spec["attendees"], event["attendees"])
        event["changeKey"] = self.t._new_id("CK")
        if event["attendees"]:
            self._invite(event, "update" if had_attendees else "request")
        return 200, self._event_out(event)

    def cancel_event(self, event_id: str, **_) -> tuple:
        event = self._event(event_id)
        event["isCancelled"] = True
        self._invite(event, "cancel")
        return 202, b""

    def add_attachment(self, event_id: str, *, body, **_) -> tuple:
        event = self._event(event_id)
        spec = json.loads(body)
        content = base64.b64decode(spec["contentBytes"])
        if len(content) > INLINE_FILE_LIMIT:
            return _error(
                413,
                "ErrorRequestEntityTooLarge",
                "An attachment over 3 MB must be added with an upload session.",
            )
        attachment = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "id": self.t._new_id("AAMkAGAttachment"),
            "name": spec["name"],
            "contentType": spec.get("contentType", "application/octet-stream"),
            "size": len(content),
            "isInline": False,
            "contentBytes": spec["contentBytes"],
        }
        self.t.attachments[event["id"]].append(attachment)
        return 201, {k: v for k, v in attachment.items() if k != "contentBytes"}

    def list_attachments(self, event_id: str, **_) -> tuple:
        event = self._event(event_id)
        return 200, {
            "value": [
                {k: v for k, v in a.items() if k != "contentBytes"}
                for a in self.t.attachments[event["id"]]
            ]
        }

    def get_schedule(self, *, body, **_) -> tuple:
        spec = json.loads(body)
        self.t.schedule_requests.append(spec)
        start = _parse_graph_time(spec["startTime"])
        end = _parse_graph_time(spec["endTime"])
        interval = int(spec.get("availabilityViewInterval", 30))
        out = []
        for address in spec["schedules"]:
            if address.lower() in self.t.unknown_mailboxes:
                out.append(
                    {
                        "scheduleId": address,
                        "availabilityView": "",
                        "scheduleItems": [],
                        "error": {
                            "message": "The user or mailbox couldn't be found.",
                            "responseCode": "ErrorMailRecipientNotFound",
                        },
                    }
                )
                continue
            items = [
                b
                for b in self.t.schedules.get(address.lower(), [])
                if b.start < end and b.end > start
            ]
            out.append(
                {
                    "scheduleId": address,
                    "availabilityView": _availability_view(items, start, end, interval),
                    "scheduleItems": [
                        {
                            "isPrivate": False,
                            "status": b.status,
                            "subject": b.subject,
                            "location": "",
                            "start": {"dateTime": _graph_time(b.start), "timeZone": "UTC"},
                            "end": {"dateTime": _graph_time(b.end), "timeZone": "UTC"},
                        }
                        for b in items
                    ],
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "09:00:00.0000000",
                        "endTime": "18:00:00.0000000",
                        "timeZone": {"name": "China Standard Time"},
                    },
                }
            )
        return 200, {
            "@odata.context": f"{self.base}/v1.0/$metadata"
            "#Collection(microsoft.graph.scheduleInformation)",
            "value": out,
        }


def _graph_time(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def _parse_graph_time(value: dict) -> dt.datetime:
    if value.get("timeZone") not in ("UTC", "Etc/UTC"):
        raise GraphFault(400, "ErrorInvalidTimeZone", "This fixture takes times in UTC only.")
    return dt.datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=dt.UTC)


def _availability_view(
    items: list[BusyItem], start: dt.datetime, end: dt.datetime, step: int
) -> str:
    codes = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
    view, cursor = [], start
    while cursor < end:
        slot_end = cursor + dt.timedelta(minutes=step)
        marks = [codes[b.status] for b in items if b.start < slot_end and b.end > cursor]
        view.append(max(marks) if marks else "0")
        cursor = slot_end
    return "".join(view)


# --- HTTP ---------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: GraphServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # quiet: pytest shows failures
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        match = re.fullmatch(
            r"/upload/AttachmentSessions\('([0-9a-f]+)'\)", urlsplit(self.path).path
        )
        if match is None:
            return self._reply(*_error(404, "ResourceNotFound", self.path))
        with self.server.tenant.lock:
            result = Graph(self.server.tenant, self.server.url).upload_chunk(
                match[1], body, self.headers
            )
        self._reply(*result)

    def _handle(self, method: str) -> None:
        tenant = self.server.tenant
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if not path.startswith("/v1.0/"):
            return self._reply(*self._identity(method, path, body))
        with tenant.lock:
            tenant.requests.append(f"{method} {path}")
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in tenant.tokens:
                return self._reply(
                    *_error(
                        401,
                        "InvalidAuthenticationToken",
                        "Access token has expired or is not yet valid.",
                    )
                )
            fault = tenant._take_fault(method, path)
            if fault is not None:
                status, retry = fault
                if status == "reset":
                    return self._drop()
                if status != "drop":
                    code = {"429": "TooManyRequests", "503": "ServiceUnavailable"}.get(
                        status, "InternalServerError"
                    )
                    text = (
                        "Please retry again later."
                        if status == "429"
                        else "The service is temporarily unavailable."
                    )
                    extra = {"Retry-After": str(retry)} if retry is not None else {}
                    return self._reply(*_error(int(status), code, text), extra)
            try:
                result = Graph(tenant, self.server.url).route(
                    method, path, query, body, self.headers
                )
            except GraphFault as fault_:
                result = _error(fault_.status, fault_.code, fault_.message)
            if fault is not None and fault[0] == "drop":  # taken, then the answer is lost
                return self._drop()
        self._reply(*result)

    def _identity(self, method: str, path: str, body: bytes) -> tuple:
        """The Microsoft identity platform's v2.0 endpoints for the tenant."""
        tenant = self.server.tenant
        base = f"{self.server.url}/{tenant.tenant_id}"
        if method == "GET" and path == f"/{tenant.tenant_id}/v2.0/.well-known/openid-configuration":
            return 200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "tenant_region_scope": "AS",
                "cloud_instance_name": "microsoftonline.com",
            }
        if method == "POST" and path == f"/{tenant.tenant_id}/oauth2/v2.0/token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            with tenant.lock:
                tenant.token_requests += 1
                if (
                    form.get("grant_type") != "client_credentials"
                    or form.get("scope") != f"{self.server.url}/.default"
                ):
                    return 400, {
                        "error": "invalid_scope",
                        "error_description": "AADSTS70011: The provided value for the input "
                        "parameter 'scope' is not valid.",
                    }
                if (
                    form.get("client_id") != tenant.client_id
                    or form.get("client_secret") != tenant.client_secret
                ):
                    return 401, {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided. "
                        "Ensure the secret being sent in the request is the client secret value, "
                        "not the client secret ID, for a secret added to app '"
                        + tenant.client_id
                        + "'.\r\nTrace ID: 0000\r\nCorrelation ID: 0000\r\n"
                        "Timestamp: 2026-11-23 01:00:00Z",
                        "error_codes": [7000215],
                        "timestamp": "2026-11-23 01:00:00Z",
                        "trace_id": str(uuid.uuid4()),
                        "correlation_id": str(uuid.uuid4()),
                    }
                token = "eyJ0eXAiOiJKV1QifQ." + _token({"n": uuid.uuid4().hex}) + ".sig"
                tenant.tokens.add(token)
            return 200, {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        return 404, {"error": "not_found", "error_description": path}

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(2)

    def _reply(self, status: int, body, extra: dict | None = None) -> None:
        if isinstance(body, dict):
            payload, content_type = json.dumps(body).encode(), "application/json"
        else:
            payload, content_type = body, "text/plain"
        self.send_response(status)
        headers = {"Content-Type": content_type, **(extra or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class GraphServer(ThreadingHTTPServer):
    """`with GraphServer("collab@contoso.test", tmp_path) as graph:` … `graph.url` serves
    both Graph (`/v1.0/…`) and the tenant's sign-in endpoints (`/{tenant}/…`)."""

    daemon_threads = True

    def __init__(self, address: str, directory: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tenant = Tenant(address)
        self.cert_path, key_path = make_certificate(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> GraphServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
