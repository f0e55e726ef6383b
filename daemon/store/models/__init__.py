"""The ledger's tables, one module per concept. Import from here."""

from ..enums import (
    CLOSED_STATUSES,
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
from .base import Base
from .closing import (
    AcceptanceRequest,
    Deliverable,
    LateItem,
    Retrospective,
    RetrospectiveAnswer,
    Verdict,
)
from .collaborations import Collaboration, Participant
from .history import HistoryEntry
from .items import ActionItem, item_collaborators, item_dependencies
from .mail import (
    InboundMessage,
    LedgerSecret,
    MailboxCursor,
    OutboxMessage,
    ReplyFingerprint,
)
from .meetings import AgendaItem, Attendee, Meeting, MeetingAttachment
from .minutes import Minutes, MinutesConfirmation, MinutesItemRow, MinutesRequest
from .people import Department, Person
from .rules import DelayRequest, PublishedDay, RuleCursor, RuleSchedule
from .service import JobFailure, ServiceLease, ServiceReplica
from .signin import OAuthToken

__all__ = [
    "CLOSED_STATUSES",
    "AcceptanceRequest",
    "ActionItem",
    "AgendaItem",
    "Attendee",
    "AttendeeRole",
    "Base",
    "CollabStatus",
    "Collaboration",
    "Confirmation",
    "DelayRequest",
    "Deliverable",
    "Department",
    "HistoryEntry",
    "InboundMessage",
    "InboundStatus",
    "ItemStatus",
    "JobFailure",
    "LateItem",
    "LedgerSecret",
    "Locale",
    "MailboxCursor",
    "Meeting",
    "MeetingAttachment",
    "MeetingStatus",
    "Minutes",
    "MinutesConfirmation",
    "MinutesItemRow",
    "MinutesRequest",
    "MinutesStatus",
    "OAuthToken",
    "OutboxMessage",
    "OutboxStatus",
    "Participant",
    "ParticipantRole",
    "Person",
    "Priority",
    "PublishedDay",
    "ReplyFingerprint",
    "Retrospective",
    "RetrospectiveAnswer",
    "Rsvp",
    "RuleCursor",
    "RuleSchedule",
    "ServiceLease",
    "ServiceReplica",
    "SourceKind",
    "Verdict",
    "item_collaborators",
    "item_dependencies",
    "label",
]
