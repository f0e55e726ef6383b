"""The ledger's tables, one module per concept. Import from here."""

from .base import Base
from .collaborations import Collaboration, Participant
from .enums import (
    AttendeeRole,
    CollabStatus,
    Confirmation,
    InboundStatus,
    ItemStatus,
    Locale,
    MeetingStatus,
    MinutesStatus,
    OutboxStatus,
    ParticipantRole,
    Priority,
    Rsvp,
    SourceKind,
    label,
)
from .history import HistoryEntry
from .items import ActionItem, item_collaborators, item_dependencies
from .mail import InboundMessage, LedgerSecret, MailboxCursor, OutboxMessage
from .meetings import AgendaItem, Attendee, Meeting, MeetingAttachment
from .minutes import Minutes, MinutesConfirmation
from .people import Department, Person
from .service import ServiceLease, ServiceReplica

__all__ = [
    "ActionItem",
    "AgendaItem",
    "Attendee",
    "AttendeeRole",
    "Base",
    "CollabStatus",
    "Collaboration",
    "Confirmation",
    "Department",
    "HistoryEntry",
    "InboundMessage",
    "InboundStatus",
    "ItemStatus",
    "LedgerSecret",
    "Locale",
    "MailboxCursor",
    "Meeting",
    "MeetingAttachment",
    "MeetingStatus",
    "Minutes",
    "MinutesConfirmation",
    "MinutesStatus",
    "OutboxMessage",
    "OutboxStatus",
    "Participant",
    "ParticipantRole",
    "Person",
    "Priority",
    "Rsvp",
    "ServiceLease",
    "ServiceReplica",
    "SourceKind",
    "item_collaborators",
    "item_dependencies",
    "label",
]
