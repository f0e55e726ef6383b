"""A loopback HTTP server that answers Exchange Web Services SOAP requests: a PROTOCOL-LEVEL
TEST FIXTURE, NOT A LIVE EXCHANGE SERVER.

No Exchange server exists on this machine (nor may tests reach one), so the EWS tests point
exchangelib at this server instead. It parses the SOAP requests exchangelib really sends and
answers with bodies shaped like Microsoft's documented EWS responses (the examples on the
"EWS reference" pages: GetFolder, FindFolder, CreateFolder, FindItem, GetItem with
MimeContent, SyncFolderItems with SyncState, CreateItem with MessageDisposition and
SendMeetingInvitations, MoveItem, Subscribe (pull) and GetEvents, GetUserAvailability with
a DetailedMerged FreeBusyView and ErrorMailRecipientNotFound), including the ways
Exchange says "not now": HTTP 503, and a SOAP fault ErrorServerBusy carrying
BackOffMilliseconds; and ErrorInvalidSyncStateData for a sync state it no longer accepts.

State lives in memory (`Mailbox`): tests drop mail into a folder with `deliver()`, look at
what was sent in `sent`, at calendar items in `calendar_items`, and let attendees answer a
meeting with `respond()`. Authentication is HTTP basic, or a real NTLM handshake (pyspnego
as the acceptor, keep-alive connections). What it does NOT do: OAuth, autodiscover,
recurrence, search restrictions other than the few exchangelib sends for us.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
NS = {"s": SOAP, "m": M, "t": T}

# PidLidCleanGlobalObjectId: PSETID_Meeting, id 0x23 (MS-OXPROPS 2.53), binary.
PSETID_MEETING = "6ed8da90-450b-101b-98da-00aa003f1305"
CLEAN_GOID_ID = 35


def goid_for_uid(uid: str) -> bytes:
    """The (clean) GlobalObjectId Exchange derives from a non-Outlook iCalendar UID: the
    "vCal-Uid" form of MS-OXOCAL 2.1.3.1.1.26, instance date zeroed."""
    data = b"vCal-Uid" + (1).to_bytes(4, "little") + uid.encode("utf-8") + b"\x00"
    head = bytes.fromhex("040000008200E00074C5B7101A82E008") + b"\x00" * 4
    return head + b"\x00" * 8 + b"\x00" * 8 + len(data).to_bytes(4, "little") + data


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None
    distinguished: str | None = None
    folder_class: str = "IPF.Note"
    changekey: str = "CK0"


@dataclass
class Item:
    id: str
    folder: str
    element: str  # Message, MeetingResponse, CalendarItem …
    mime: bytes = b""
    item_class: str = "IPM.Note"
    subject: str = ""
    seq: int = 0  # change-log position when it arrived in its folder
    changekey: str = "CK1"
    fields: dict = field(default_factory=dict)


@dataclass
class Sent:
    mime: bytes
    to: list[str]
    bcc: list[str]
    disposition: str

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.mime, policy=email.policy.default)


@dataclass
class Attendee:
    email: str
    response: str = "NoResponseReceived"  # Accept, Decline, Tentative, NoResponseReceived
    proposed_start: str = ""
    proposed_end: str = ""
    required: bool = True


@dataclass
class CalendarEntry:
    item: Item
    uid: str
    subject: str
    start: str
    end: str
    location: str
    body: str
    attendees: list[Attendee]
    attachments: list[tuple[str, str, bytes]]  # (name, content type, bytes)
    invitations: str  # SendMeetingInvitations as requested
    cancelled: bool = False
    updates: list[str] = field(default_factory=list)  # one per UpdateItem: what was sent


# The SendMeetingInvitations / …OrCancellations / SendMeetingCancellations values with which
# Exchange mails the attendees (Microsoft's CalendarItemCreateOrDeleteOperationType and
# CalendarItemUpdateOperationType); "…AndSaveCopy" also keeps the copy in Sent Items.
MAILS_ATTENDEES = frozenset(
    {"SendOnlyToAll", "SendToAllAndSaveCopy", "SendOnlyToChanged", "SendToChangedAndSaveCopy"}
)


@dataclass
class Notice:
    """What Exchange mailed the attendees on the organizer's behalf (as Graph's fixture keeps
    `invitations`): a request, an update or a cancellation, who got it, which files."""

    uid: str
    kind: str  # request | update | cancel
    mode: str  # the SendMeeting… value asked for
    attendees: list[str]
    attachments: list[str]


class Mailbox:
    """One mailbox's state, shared by the request threads under one lock."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.seq = 0  # the folder change log's position, shared by every folder
        self.sync_generation = 1  # bumped to expire every sync state handed out
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.removed: list[tuple[int, str, str, int]] = []  # (seq, folder, item id, arrival)
        self.sent: list[Sent] = []
        self.calendar_items: list[CalendarEntry] = []
        self.notices: list[Notice] = []  # what Exchange mailed the attendees, in order
        self.subscriptions: dict[str, dict] = {}
        self.requests: list[str] = []  # operation names, in order
        self.logins: list[str] = []  # NTLM principals that authenticated a connection
        self.faults: list[tuple[str, str, int]] = []  # (operation or "*", kind, back-off ms)
        self.rejected_recipients: set[str] = set()
        # free/busy (GetUserAvailability): address -> [(start, end, BusyType)], in UTC
        self.schedules: dict[str, list[tuple[datetime, datetime, str]]] = {}
        self.unknown_mailboxes: set[str] = set()
        self.availability_requests: list[list[str]] = []
        root = self._folder("", None, "root")
        top = self._folder("Top of Information Store", root.id, "msgfolderroot")
        for name, distinguished, cls in (
            ("Inbox", "inbox", "IPF.Note"),
            ("Sent Items", "sentitems", "IPF.Note"),
            ("Drafts", "drafts", "IPF.Note"),
            ("Deleted Items", "deleteditems", "IPF.Note"),
            ("Calendar", "calendar", "IPF.Appointment"),
        ):
            self._folder(name, top.id, distinguished, cls)

    # --- what tests use ---------------------------------------------------------------------
    def folder(self, distinguished_or_path: str) -> Folder:
        with self.lock:
            for f in self.folders.values():
                if f.distinguished == distinguished_or_path:
                    return f
            node = self.folder("msgfolderroot")
            for part in distinguished_or_path.split("/"):
                node = next(
                    f
                    for f in self.folders.values()
                    if f.parent == node.id and f.name.lower() == part.lower()
                )
            return node

    def deliver(self, raw: bytes, folder: str = "inbox", **kind: str) -> Item:
        """A mail arrives (as the transport agent would put it there)."""
        with self.lock:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            item = Item(
                id=self._new_id("item"),
                folder=self.folder(folder).id,
                element=kind.get("element", "Message"),
                item_class=kind.get("item_class", "IPM.Note"),
                mime=raw,
                subject=str(message.get("Subject", "")),
            )
            self._arrive(item)
            for sub in self.subscriptions.values():
                if item.folder in sub["folders"]:
                    sub["events"].append(("NewMailEvent", item.id, item.folder))
            return item

    def in_folder(self, distinguished_or_path: str) -> list[Item]:
        with self.lock:
            target = self.folder(distinguished_or_path).id
            return [i for i in self.items.values() if i.folder == target]

    def fail_next(self, kind: str, operation: str = "*", times: int = 1, back_off_ms: int = 0):
        """kind: "503" (HTTP Service Unavailable), "busy" (ErrorServerBusy fault)."""
        with self.lock:
            self.faults += [(operation, kind, back_off_ms)] * times

    def busy(self, address: str, start: datetime, end: datetime, busy_type: str = "Busy"):
        """A calendar entry of someone collabd may invite (Busy, Tentative, OOF, …)."""
        with self.lock:
            self.schedules.setdefault(address.lower(), []).append((start, end, busy_type))

    def expire_sync_states(self) -> None:
        with self.lock:
            self.sync_generation += 1

    def respond(
        self,
        uid: str,
        attendee: str,
        response: str,
        start: str = "",
        end: str = "",
        deliver: bool = False,
    ) -> Item | None:
        """An attendee answered; Exchange records it on the organizer's calendar item and,
        with `deliver`, drops the MeetingResponse into the organizer's inbox."""
        with self.lock:
            entry = next(c for c in self.calendar_items if c.uid == uid)
            person = next(a for a in entry.attendees if a.email.lower() == attendee.lower())
            person.response, person.proposed_start, person.proposed_end = response, start, end
            entry.item.changekey = f"CK{next(self._ids)}"
            if not deliver:
                return None
            suffix = {"Accept": "Pos", "Decline": "Neg", "Tentative": "Tent"}[response]
            return self.deliver(
                meeting_response_mime(entry, person, self.address),
                element="MeetingResponse",
                item_class=f"IPM.Schedule.Meeting.Resp.{suffix}",
            )

    # --- internals ----------------------------------------------------------------------------
    def _new_id(self, kind: str) -> str:
        raw = f"{kind}-{next(self._ids)}-{uuid.uuid4().hex[:8]}".encode()
        return base64.b64encode(raw).decode()

    def _folder(self, name, parent, distinguished=None, cls="IPF.Note") -> Folder:
        folder = Folder(self._new_id("folder"), name, parent, distinguished, cls)
        self.folders[folder.id] = folder
        return folder

    def _arrive(self, item: Item) -> None:
        self.seq += 1
        item.seq = self.seq
        self.items[item.id] = item

    def _remove(self, item: Item) -> None:
        self.seq += 1
        self.removed.append((self.seq, item.folder, item.id, item.seq))
        del self.items[item.id]

    def _take_fault(self, operation: str) -> tuple[str, int] | None:
        with self.lock:
            for index, (op, kind, back_off) in enumerate(self.faults):
                if op in ("*", operation):
                    del self.faults[index]
                    return kind, back_off
        return None


def meeting_response_mime(entry: CalendarEntry, person: Attendee, organizer: str) -> bytes:
    """The MIME Exchange hands out (GetItem MimeContent) for a MeetingResponse: a short text
    part and the iCalendar answer, METHOD:REPLY, or METHOD:COUNTER for a new time."""
    partstat = {"Accept": "ACCEPTED", "Decline": "DECLINED", "Tentative": "TENTATIVE"}
    prefix = {"Accept": "Accepted", "Decline": "Declined", "Tentative": "Tentative"}
    method = "COUNTER" if person.proposed_start else "REPLY"
    if method == "COUNTER":
        prefix["Tentative"] = "New Time Proposed"
    when = ""
    if person.proposed_start:
        fmt = lambda v: v.replace("-", "").replace(":", "")  # noqa: E731 - iCalendar UTC form
        when = f"DTSTART:{fmt(person.proposed_start)}\r\nDTEND:{fmt(person.proposed_end)}\r\n"
    ical = (
        f"BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nPRODID:Microsoft Exchange Server 2010\r\n"
        "VERSION:2.0\r\nBEGIN:VEVENT\r\n"
        f"ATTENDEE;PARTSTAT={partstat[person.response]}:mailto:{person.email}\r\n"
        f"SUMMARY;LANGUAGE=zh-CN:{prefix[person.response]}: {entry.subject}\r\n"
        f"{when}UID:{entry.uid}\r\nSEQUENCE:0\r\nDTSTAMP:20261123T020000Z\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    boundary = "_000_exchange_response_"
    subject = f"{prefix[person.response]}: {entry.subject}"
    return (
        f"From: <{person.email}>\r\nTo: <{organizer}>\r\n"
        f"Subject: =?utf-8?b?{base64.b64encode(subject.encode()).decode()}?=\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@exchange.test>\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\r\n"
        f'--{boundary}\r\nContent-Type: text/calendar; charset="utf-8"; method={method}\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{base64.encodebytes(ical.encode()).decode()}\r\n--{boundary}--\r\n"
    ).encode()


class EwsError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


# --- XML helpers ------------------------------------------------------------------------------


def _item_xml(item: Item, shape: set[str], base_only: bool) -> str:
    parts = [f'<t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/>']
    if base_only:
        return f"<t:{item.element}>{''.join(parts)}</t:{item.element}>"
    if "item:MimeContent" in shape or not shape:
        mime = base64.b64encode(item.mime).decode()
        parts.insert(0, f'<t:MimeContent CharacterSet="UTF-8">{mime}</t:MimeContent>')
    parts.append(f"<t:ItemClass>{escape(item.item_class)}</t:ItemClass>")
    parts.append(f"<t:Subject>{escape(item.subject)}</t:Subject>")
    return f"<t:{item.element}>{''.join(parts)}</t:{item.element}>"


def _calendar_xml(entry: CalendarEntry) -> str:
    def attendees(required: bool) -> str:
        rows = []
        for a in entry.attendees:
            if a.required != required:
                continue
            proposed = ""
            if a.proposed_start:
                proposed = (
                    f"<t:ProposedStart>{a.proposed_start}</t:ProposedStart>"
                    f"<t:ProposedEnd>{a.proposed_end}</t:ProposedEnd>"
                )
            rows.append(
                f"<t:Attendee><t:Mailbox><t:EmailAddress>{escape(a.email)}</t:EmailAddress>"
                f"<t:RoutingType>SMTP</t:RoutingType></t:Mailbox>"
                f"<t:ResponseType>{a.response}</t:ResponseType>{proposed}</t:Attendee>"
            )
        return "".join(rows)

    item = entry.item
    return (
        f'<t:CalendarItem><t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/>'
        f"<t:ItemClass>IPM.Appointment</t:ItemClass><t:Subject>{escape(entry.subject)}</t:Subject>"
        f"<t:UID>{escape(entry.uid)}</t:UID>"
        f"<t:Start>{entry.start}</t:Start><t:End>{entry.end}</t:End>"
        f"<t:IsCancelled>{str(entry.cancelled).lower()}</t:IsCancelled>"
        f"<t:Location>{escape(entry.location)}</t:Location>"
        f"<t:RequiredAttendees>{attendees(True)}</t:RequiredAttendees>"
        f"<t:OptionalAttendees>{attendees(False)}</t:OptionalAttendees>"
        "</t:CalendarItem>"
    )


def _folder_xml(folder: Folder) -> str:
    tag = "CalendarFolder" if folder.folder_class == "IPF.Appointment" else "Folder"
    parent = f'<t:ParentFolderId Id="{folder.parent}" ChangeKey="CK0"/>' if folder.parent else ""
    return (
        f'<t:{tag}><t:FolderId Id="{folder.id}" ChangeKey="{folder.changekey}"/>{parent}'
        f"<t:FolderClass>{folder.folder_class}</t:FolderClass>"
        f"<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
        "<t:TotalCount>0</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount>"
        "<t:UnreadCount>0</t:UnreadCount></t:{tag}>"
    )


def _message(operation: str, body: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success">'
        f"<m:ResponseCode>NoError</m:ResponseCode>{body}</m:{operation}ResponseMessage>"
    )


def _error_message(operation: str, error: EwsError) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error">'
        f"<m:MessageText>{escape(error.text)}</m:MessageText>"
        f"<m:ResponseCode>{error.code}</m:ResponseCode>"
        f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:{operation}ResponseMessage>"
    )


def _envelope(operation: str, messages: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>'
        f'<h:ServerVersionInfo xmlns:h="{T}" MajorVersion="15" MinorVersion="1" '
        'MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11"/></s:Header>'
        f'<s:Body><m:{operation}Response xmlns:m="{M}" xmlns:t="{T}">'
        f"<m:ResponseMessages>{''.join(messages)}</m:ResponseMessages>"
        f"</m:{operation}Response></s:Body></s:Envelope>"
    ).encode()


def _busy_fault(back_off_ms: int) -> bytes:
    """The fault Exchange sends when a throttling budget is exceeded (HTTP 500)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        '<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">'
        "a:ErrorServerBusy</faultcode>"
        '<faultstring xml:lang="en-US">The server cannot service this request right now. '
        "Try again later.</faultstring><detail>"
        f'<e:ResponseCode xmlns:e="{E}">ErrorServerBusy</e:ResponseCode>'
        f'<e:Message xmlns:e="{E}">The server cannot service this request right now. '
        "Try again later.</e:Message>"
        f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">{back_off_ms}'
        "</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


# --- the operations ---------------------------------------------------------------------------


class Operations:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    def _folder_ref(self, elem) -> Folder:
        if elem.tag == f"{{{T}}}DistinguishedFolderId":
            return self.box.folder(elem.get("Id"))
        folder = self.box.folders.get(elem.get("Id"))
        if folder is None:
            raise EwsError("ErrorFolderNotFound", "The specified folder could not be found.")
        return folder

    def _folder_refs(self, container) -> list[Folder]:
        return [self._folder_ref(e) for e in container if isinstance(e.tag, str)]

    @staticmethod
    def _shape(request) -> tuple[str, set[str]]:
        base = request.findtext(".//t:BaseShape", default="IdOnly", namespaces=NS)
        uris = {e.get("FieldURI") for e in request.iterfind(".//t:AdditionalProperties/*", NS)}
        return base, {u for u in uris if u}

    def GetFolder(self, request) -> list[str]:
        out = []
        for ref in request.find("m:FolderIds", NS):
            try:
                out.append(
                    _message(
                        "GetFolder", f"<m:Folders>{_folder_xml(self._folder_ref(ref))}</m:Folders>"
                    )
                )
            except (EwsError, StopIteration):
                out.append(
                    _error_message(
                        "GetFolder",
                        EwsError("ErrorFolderNotFound", "The specified folder could not be found."),
                    )
                )
        return out

    def FindFolder(self, request) -> list[str]:
        out = []
        constant = request.find(".//t:Constant", NS)
        wanted = constant.get("Value") if constant is not None else None
        deep = request.get("Traversal") == "Deep"
        for parent in self._folder_refs(request.find("m:ParentFolderIds", NS)):
            found = self._children(parent.id, deep)
            if wanted is not None:
                found = [f for f in found if f.name.lower() == wanted.lower()]
            body = "".join(_folder_xml(f) for f in found)
            out.append(
                _message(
                    "FindFolder",
                    f'<m:RootFolder TotalItemsInView="{len(found)}" '
                    f'IncludesLastItemInRange="true"><t:Folders>{body}</t:Folders>'
                    "</m:RootFolder>",
                )
            )
        return out

    def _children(self, parent: str, deep: bool) -> list[Folder]:
        direct = [f for f in self.box.folders.values() if f.parent == parent]
        if not deep:
            return direct
        return direct + [c for f in direct for c in self._children(f.id, True)]

    def CreateFolder(self, request) -> list[str]:
        parent = self._folder_refs(request.find("m:ParentFolderId", NS))[0]
        out = []
        for spec in request.find("m:Folders", NS):
            name = spec.findtext("t:DisplayName", default="", namespaces=NS)
            if any(f.name.lower() == name.lower() for f in self._children(parent.id, False)):
                out.append(
                    _error_message(
                        "CreateFolder",
                        EwsError(
                            "ErrorFolderExists", "A folder with the specified name already exists."
                        ),
                    )
                )
                continue
            folder = self.box._folder(name, parent.id)
            out.append(_message("CreateFolder", f"<m:Folders>{_folder_xml(folder)}</m:Folders>"))
        return out

    def FindItem(self, request) -> list[str]:
        out = []
        restriction = request.find("m:Restriction", NS)
        for folder in self._folder_refs(request.find("m:ParentFolderIds", NS)):
            items = [i for i in self.box.items.values() if i.folder == folder.id]
            entries = {c.item.id: c for c in self.box.calendar_items}
            if restriction is not None:
                items = [i for i in items if self._matches(restriction, entries.get(i.id))]
            body = "".join(
                _calendar_xml(entries[i.id]) if i.id in entries else _item_xml(i, set(), True)
                for i in items
            )
            out.append(
                _message(
                    "FindItem",
                    f'<m:RootFolder TotalItemsInView="{len(items)}" '
                    f'IncludesLastItemInRange="true"><t:Items>{body}</t:Items>'
                    "</m:RootFolder>",
                )
            )
        return out

    @staticmethod
    def _matches(restriction, entry: CalendarEntry | None) -> bool:
        """The one restriction collabd sends: CleanGlobalObjectId equal to a value."""
        uri = restriction.find(".//t:ExtendedFieldURI", NS)
        constant = restriction.find(".//t:Constant", NS)
        if uri is None or constant is None or entry is None:
            raise EwsError("ErrorUnsupportedQueryFilter", "This fixture only filters on a GOID.")
        property_set = uri.get("PropertySetId", "").lower()
        if uri.get("DistinguishedPropertySetId") == "Meeting":
            property_set = PSETID_MEETING
        if (property_set, uri.get("PropertyId")) != (PSETID_MEETING, str(CLEAN_GOID_ID)):
            raise EwsError("ErrorUnsupportedQueryFilter", "Only CleanGlobalObjectId is supported.")
        return base64.b64decode(constant.get("Value")) == goid_for_uid(entry.uid)

    def GetItem(self, request) -> list[str]:
        base, shape = self._shape(request)
        entries = {c.item.id: c for c in self.box.calendar_items}
        out = []
        for ref in request.find("m:ItemIds", NS):
            item = self.box.items.get(ref.get("Id"))
            if item is None:
                out.append(
                    _error_message(
                        "GetItem",
                        EwsError(
                            "ErrorItemNotFound", "The specified object was not found in the store."
                        ),
                    )
                )
            elif item.id in entries:
                out.append(
                    _message("GetItem", f"<m:Items>{_calendar_xml(entries[item.id])}</m:Items>")
                )
            else:
                xml = _item_xml(item, shape, base == "IdOnly" and not shape)
                out.append(_message("GetItem", f"<m:Items>{xml}</m:Items>"))
        return out

    def SyncFolderItems(self, request) -> list[str]:
        folder = self._folder_refs(request.find("m:SyncFolderId", NS))[0]
        state = request.findtext("m:SyncState", default="", namespaces=NS)
        limit = int(request.findtext("m:MaxChangesReturned", default="100", namespaces=NS))
        since = 0
        if state:
            try:
                generation, position = base64.b64decode(state).decode().split(":")
                if int(generation) != self.box.sync_generation:
                    raise ValueError("expired")
                since = int(position)
            except ValueError:
                # Exchange still writes (empty) SyncState and IncludesLastItemInRange here.
                error = _error_message(
                    "SyncFolderItems",
                    EwsError(
                        "ErrorInvalidSyncStateData",
                        "Synchronization state data is corrupt or otherwise invalid.",
                    ),
                )
                tail = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
                return [
                    error.replace(
                        "</m:SyncFolderItemsResponseMessage>",
                        tail + "</m:SyncFolderItemsResponseMessage>",
                    )
                ]
        changes: list[tuple[int, str]] = []
        for item in self.box.items.values():
            if item.folder == folder.id and item.seq > since:
                changes.append((item.seq, f"<t:Create>{_item_xml(item, set(), True)}</t:Create>"))
        for seq, folder_id, item_id, arrival in self.box.removed:
            if folder_id == folder.id and seq > since and arrival <= since:
                changes.append(
                    (seq, f'<t:Delete><t:ItemId Id="{item_id}" ChangeKey="CK"/></t:Delete>')
                )
        changes.sort()
        page, last = changes[:limit], len(changes) <= limit
        position = page[-1][0] if page and not last else self.box.seq if last else since
        new_state = base64.b64encode(f"{self.box.sync_generation}:{position}".encode()).decode()
        body = (
            f"<m:SyncState>{new_state}</m:SyncState>"
            f"<m:IncludesLastItemInRange>{str(last).lower()}</m:IncludesLastItemInRange>"
            f"<m:Changes>{''.join(xml for _, xml in page)}</m:Changes>"
        )
        return [_message("SyncFolderItems", body)]

    def MoveItem(self, request) -> list[str]:
        target = self._folder_refs(request.find("m:ToFolderId", NS))[0]
        out = []
        for ref in request.find("m:ItemIds", NS):
            item = self.box.items.get(ref.get("Id"))
            if item is None:
                out.append(
                    _error_message(
                        "MoveItem",
                        EwsError(
                            "ErrorItemNotFound", "The specified object was not found in the store."
                        ),
                    )
                )
                continue
            self.box._remove(item)
            moved = Item(
                self.box._new_id("item"),
                target.id,
                item.element,
                item.mime,
                item.item_class,
                item.subject,
            )
            self.box._arrive(moved)
            out.append(_message("MoveItem", f"<m:Items>{_item_xml(moved, set(), True)}</m:Items>"))
        return out

    def CreateItem(self, request) -> list[str]:
        disposition = request.get("MessageDisposition", "")
        invitations = request.get("SendMeetingInvitations", "")
        saved = request.find("m:SavedItemFolderId", NS)
        out = []
        for spec in request.find("m:Items", NS):
            kind = etree.QName(spec).localname
            if kind == "CalendarItem":
                out.append(self._create_calendar_item(spec, saved, invitations))
                continue
            mime = base64.b64decode(spec.findtext("t:MimeContent", default="", namespaces=NS))
            message = email.message_from_bytes(mime, policy=email.policy.compat32)
            to = [a for _, a in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))]
            bcc = [e.text for e in spec.iterfind("t:BccRecipients/t:Mailbox/t:EmailAddress", NS)]
            refused = [a for a in to + bcc if a.lower() in self.box.rejected_recipients]
            if refused:
                out.append(
                    _error_message(
                        "CreateItem",
                        EwsError(
                            "ErrorInvalidRecipients",
                            f"One or more recipients are invalid: {refused}",
                        ),
                    )
                )
                continue
            if disposition in ("SendOnly", "SendAndSaveCopy"):
                self.box.sent.append(Sent(mime, to, bcc, disposition))
            body = ""
            if disposition in ("SaveOnly", "SendAndSaveCopy"):
                where = (
                    self._folder_ref(saved[0])
                    if saved is not None
                    else self.box.folder(
                        "sentitems" if disposition == "SendAndSaveCopy" else "drafts"
                    )
                )
                item = Item(
                    self.box._new_id("item"),
                    where.id,
                    "Message",
                    mime,
                    subject=str(message.get("Subject", "")),
                )
                self.box._arrive(item)
                if disposition == "SaveOnly":
                    body = _item_xml(item, set(), True)
            out.append(_message("CreateItem", f"<m:Items>{body}</m:Items>"))
        return out

    def _create_calendar_item(self, spec, saved, invitations: str) -> str:
        folder = self._folder_ref(saved[0]) if saved is not None else self.box.folder("calendar")
        item = Item(
            self.box._new_id("item"),
            folder.id,
            "CalendarItem",
            b"",
            "IPM.Appointment",
            spec.findtext("t:Subject", default="", namespaces=NS),
        )
        attendees = [
            Attendee(
                e.text,
                required=(
                    etree.QName(e.getparent().getparent().getparent()).localname
                    == "RequiredAttendees"
                ),
            )
            for e in spec.iterfind(".//t:Attendee/t:Mailbox/t:EmailAddress", NS)
        ]
        attachments = [
            (
                a.findtext("t:Name", default="", namespaces=NS),
                a.findtext("t:ContentType", default="", namespaces=NS),
                base64.b64decode(a.findtext("t:Content", default="", namespaces=NS)),
            )
            for a in spec.iterfind("t:Attachments/t:FileAttachment", NS)
        ]
        entry = CalendarEntry(
            item=item,
            uid=spec.findtext("t:UID", default="", namespaces=NS) or uuid.uuid4().hex,
            subject=item.subject,
            start=spec.findtext("t:Start", default="", namespaces=NS),
            end=spec.findtext("t:End", default="", namespaces=NS),
            location=spec.findtext("t:Location", default="", namespaces=NS),
            body=spec.findtext("t:Body", default="", namespaces=NS),
            attendees=attendees,
            attachments=attachments,
            invitations=invitations,
        )
        self.box._arrive(item)
        self.box.calendar_items.append(entry)
        self._notify(entry, "request", invitations)
        return _message("CreateItem", f"<m:Items>{_item_xml(item, set(), True)}</m:Items>")

    def _notify(self, entry: CalendarEntry, kind: str, mode: str) -> None:
        if mode in MAILS_ATTENDEES and entry.attendees:
            self.box.notices.append(
                Notice(
                    entry.uid,
                    kind,
                    mode,
                    [a.email for a in entry.attendees],
                    [name for name, _, _ in entry.attachments],
                )
            )

    def UpdateItem(self, request) -> list[str]:
        """The organizer changes a meeting; with SendMeetingInvitationsOrCancellations Exchange
        sends the update to the attendees (recorded in `updates`)."""
        out = []
        entries = {c.item.id: c for c in self.box.calendar_items}
        for change in request.find("m:ItemChanges", NS):
            item_id = change.find("t:ItemId", NS).get("Id")
            entry = entries.get(item_id)
            if entry is None:
                out.append(
                    _error_message(
                        "UpdateItem",
                        EwsError(
                            "ErrorItemNotFound", "The specified object was not found in the store."
                        ),
                    )
                )
                continue
            for update in change.find("t:Updates", NS):
                if etree.QName(update).localname != "SetItemField":
                    continue
                value = update.find("t:CalendarItem", NS)[0]
                field_name = etree.QName(value).localname
                if field_name in ("RequiredAttendees", "OptionalAttendees"):
                    required = field_name == "RequiredAttendees"
                    answers = {a.email.lower(): a for a in entry.attendees}
                    kept = [a for a in entry.attendees if a.required != required]
                    for e in value.iterfind(".//t:Mailbox/t:EmailAddress", NS):
                        old = answers.get(e.text.lower())
                        kept.append(
                            Attendee(
                                e.text,
                                old.response if old else "NoResponseReceived",
                                required=required,
                            )
                        )
                    entry.attendees = kept
                elif field_name in ("Subject", "Start", "End", "Location", "Body"):
                    setattr(entry, field_name.lower(), value.text or "")
            mode = request.get("SendMeetingInvitationsOrCancellations", "")
            entry.updates.append(mode)
            self._notify(entry, "update", mode)
            entry.item.changekey = f"CK{next(self.box._ids)}"
            out.append(
                _message(
                    "UpdateItem",
                    f"<m:Items>{_item_xml(entry.item, set(), True)}"
                    "</m:Items><m:ConflictResults><t:Count>0</t:Count>"
                    "</m:ConflictResults>",
                )
            )
        return out

    def DeleteItem(self, request) -> list[str]:
        """Deleting the organizer's meeting with SendMeetingCancellations cancels it."""
        out = []
        for ref in request.find("m:ItemIds", NS):
            for entry in self.box.calendar_items:
                if entry.item.id == ref.get("Id"):
                    entry.cancelled = True
                    entry.invitations = request.get("SendMeetingCancellations", "")
                    self._notify(entry, "cancel", entry.invitations)
            item = self.box.items.get(ref.get("Id"))
            if item is not None:
                self.box._remove(item)
            out.append(_message("DeleteItem"))
        return out

    def Subscribe(self, request) -> list[str]:
        pull = request.find("m:PullSubscriptionRequest", NS)
        folders = self._folder_refs(pull.find("t:FolderIds", NS))
        subscription = self.box._new_id("subscription")
        self.box.subscriptions[subscription] = {
            "folders": {f.id for f in folders},
            "events": [],
            "watermark": 1,
        }
        return [
            _message(
                "Subscribe",
                f"<m:SubscriptionId>{subscription}</m:SubscriptionId>"
                "<m:Watermark>AQAAAA==</m:Watermark>",
            )
        ]

    def GetEvents(self, request) -> list[str]:
        subscription = request.findtext("m:SubscriptionId", namespaces=NS)
        sub = self.box.subscriptions.get(subscription)
        if sub is None:
            return [
                _error_message(
                    "GetEvents",
                    EwsError(
                        "ErrorSubscriptionNotFound", "The specified subscription was not found."
                    ),
                )
            ]
        previous = base64.b64encode(str(sub["watermark"]).encode()).decode()
        sub["watermark"] += 1
        mark = base64.b64encode(str(sub["watermark"]).encode()).decode()
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        events, sub["events"] = sub["events"], []
        body = (
            "".join(
                f"<t:{kind}><t:Watermark>{mark}</t:Watermark><t:TimeStamp>{now}</t:TimeStamp>"
                f'<t:ItemId Id="{item_id}" ChangeKey="CK"/>'
                f'<t:ParentFolderId Id="{folder_id}" ChangeKey="CK"/></t:{kind}>'
                for kind, item_id, folder_id in events
            )
            or f"<t:StatusEvent><t:Watermark>{mark}</t:Watermark></t:StatusEvent>"
        )
        return [
            _message(
                "GetEvents",
                f"<m:Notification><t:SubscriptionId>{subscription}"
                f"</t:SubscriptionId><t:PreviousWatermark>{previous}"
                "</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>"
                f"{body}</m:Notification>",
            )
        ]

    def ConvertId(self, request) -> list[str]:
        """exchangelib's version probe: any answer with a ServerVersionInfo header will do."""
        return [
            _error_message("ConvertId", EwsError("ErrorInvalidIdMalformed", "Id is malformed."))
        ]

    def Unsubscribe(self, request) -> list[str]:
        self.box.subscriptions.pop(request.findtext("m:SubscriptionId", namespaces=NS), None)
        return [_message("Unsubscribe")]


def _availability(box: Mailbox, request) -> bytes:
    """GetUserAvailability: one FreeBusyResponse per MailboxData, in request order, each a
    DetailedMerged FreeBusyView in the request's time zone (this fixture: bias 0, UTC)."""
    if request.findtext("t:TimeZone/t:Bias", namespaces=NS) != "0":
        raise EwsError("ErrorInvalidRequest", "This fixture answers in UTC (Bias 0) only.")
    window = request.find("t:FreeBusyViewOptions/t:TimeWindow", NS)
    start, end = (
        datetime.fromisoformat(window.findtext(f"t:{n}", namespaces=NS)[:19]).replace(tzinfo=UTC)
        for n in ("StartTime", "EndTime")
    )
    emails = [
        e.text for e in request.iterfind("m:MailboxDataArray/t:MailboxData/t:Email/t:Address", NS)
    ]
    box.availability_requests.append(emails)
    answers = []
    for email_ in emails:
        if email_.lower() in box.unknown_mailboxes:
            answers.append(
                '<m:FreeBusyResponse><m:ResponseMessage ResponseClass="Error">'
                "<m:MessageText>No mailbox with such guid.</m:MessageText>"
                "<m:ResponseCode>ErrorMailRecipientNotFound</m:ResponseCode>"
                "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:ResponseMessage>"
                "</m:FreeBusyResponse>"
            )
            continue
        events = "".join(
            f"<t:CalendarEvent><t:StartTime>{a:%Y-%m-%dT%H:%M:%S}</t:StartTime>"
            f"<t:EndTime>{b:%Y-%m-%dT%H:%M:%S}</t:EndTime><t:BusyType>{kind}</t:BusyType>"
            "</t:CalendarEvent>"
            for a, b, kind in box.schedules.get(email_.lower(), [])
            if a < end and b > start
        )
        answers.append(
            '<m:FreeBusyResponse><m:ResponseMessage ResponseClass="Success">'
            "<m:ResponseCode>NoError</m:ResponseCode></m:ResponseMessage><m:FreeBusyView>"
            "<t:FreeBusyViewType>DetailedMerged</t:FreeBusyViewType>"
            f"<t:CalendarEventArray>{events}</t:CalendarEventArray></m:FreeBusyView>"
            "</m:FreeBusyResponse>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>'
        f'<h:ServerVersionInfo xmlns:h="{T}" MajorVersion="15" MinorVersion="1" '
        'MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11"/></s:Header>'
        f'<s:Body><m:GetUserAvailabilityResponse xmlns:m="{M}" xmlns:t="{T}">'
        f"<m:FreeBusyResponseArray>{''.join(answers)}</m:FreeBusyResponseArray>"
        "</m:GetUserAvailabilityResponse></s:Body></s:Envelope>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    server: EwsServer
    # Keep-alive: NTLM authenticates a connection, in a three-message handshake on it.
    protocol_version = "HTTP/1.1"
    _ntlm: object | None = None
    _ntlm_user: str | None = None

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if self.server.auth == "basic":
            secret = f"{self.server.username}:{self.server.password}".encode()
            if header == "Basic " + base64.b64encode(secret).decode():
                return True
            return self._challenge('Basic realm="ews"')
        if self._ntlm_user is not None:  # this connection has authenticated
            return True
        if not header.startswith("NTLM "):
            return self._challenge("NTLM")
        import spnego

        token = base64.b64decode(header[5:])
        if token[8:12] == (1).to_bytes(4, "little"):  # NEGOTIATE starts a new handshake
            self._ntlm = spnego.server(protocol="ntlm")
        try:
            answer = self._ntlm.step(token)  # type: ignore[union-attr]
        except Exception:  # wrong password: the acceptor refuses the AUTHENTICATE message
            self._ntlm = None
            return self._challenge("NTLM")
        if self._ntlm.complete:  # type: ignore[union-attr]
            self._ntlm_user = str(self._ntlm.client_principal)  # type: ignore[union-attr]
            self.server.box.logins.append(self._ntlm_user)
            return True
        return self._challenge("NTLM " + base64.b64encode(answer).decode())

    def _challenge(self, value: str) -> bool:
        self.send_response(401)
        self.send_header("WWW-Authenticate", value)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def log_message(self, format: str, *args) -> None:  # quiet: pytest shows failures
        pass

    def do_POST(self) -> None:
        box = self.server.box
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.lower() != "/ews/exchange.asmx":
            return self._reply(404, b"not found", "text/plain")
        if not self._authorized():
            return None
        envelope = etree.fromstring(body)
        request = envelope.find("s:Body", NS)[0]
        operation = etree.QName(request).localname
        with box.lock:
            box.requests.append(operation)
            fault = box._take_fault(operation)
            if fault is not None:
                kind, back_off = fault
                if kind == "503":
                    return self._reply(503, b"Service Unavailable", "text/html")
                return self._reply(500, _busy_fault(back_off))
            if operation == "GetUserAvailabilityRequest":  # its own shape, no ResponseMessages
                return self._reply(200, _availability(box, request))
            handler = getattr(Operations(box), operation, None)
            if handler is None:
                return self._reply(
                    500, _busy_fault(0).replace(b"ErrorServerBusy", b"ErrorInvalidRequest")
                )
            try:
                messages = handler(request)
            except EwsError as error:
                messages = [_error_message(operation, error)]
        return self._reply(200, _envelope(operation, messages))

    def _reply(self, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class EwsServer(ThreadingHTTPServer):
    """`with EwsServer("collab@example.com") as ews:` … `ews.url` is the EWS endpoint."""

    daemon_threads = True

    def __init__(
        self,
        address: str,
        username: str = "collab",
        password: str = "s3cret",
        auth: str = "basic",  # or "ntlm": needs NTLM_USER_FILE naming DOMAIN:USER:PASSWORD
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.box = Mailbox(address)
        self.username, self.password, self.auth = username, password, auth
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/EWS/Exchange.asmx"

    def __enter__(self) -> EwsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
