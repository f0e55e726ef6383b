"""Every closed set of values the ledger knows, with the Chinese words users see.

The zh-CN labels follow the seed templates (跟进台账: 未开始 / 进行中 / 已完成 / 需支持 …).
"""

from __future__ import annotations

import enum


class Locale(enum.StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


class CollabStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    CANCELLED = "cancelled"  # called off after the start: read-only, archived as cancelled
    DELETED = "deleted"  # removed before it sent anything; the row stays for the history


class ParticipantRole(enum.StrEnum):
    """A department's place in a collaboration (seed 001: 主导 / 配合 / 监督)."""

    LEAD = "lead"
    SUPPORT = "support"
    OBSERVER = "observer"


class Priority(enum.StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class ItemStatus(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    NEEDS_SUPPORT = "needs_support"
    DELAYED = "delayed"
    CANCELLED = "cancelled"  # 取消: no more chasing, kept in the ledger and the archive


# What people write for a priority (the seed's 高 / 中 / 低 and their neighbours).
PRIORITY_WORDS = {
    "高": "high",
    "紧急": "high",
    "中": "normal",
    "普通": "normal",
    "常规": "normal",
    "低": "low",
    "medium": "normal",
}

# Statuses that need nothing more from anyone: the rules chase every other one.
CLOSED_STATUSES = frozenset({ItemStatus.DONE, ItemStatus.CANCELLED})


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    ENDED = "ended"


class AttendeeRole(enum.StrEnum):
    """RFC 5545 ROLE values collabd writes."""

    CHAIR = "chair"
    REQUIRED = "required"
    OPTIONAL = "optional"


class Rsvp(enum.StrEnum):
    """RFC 5545 PARTSTAT values for a meeting attendee."""

    NEEDS_ACTION = "needs_action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    DELEGATED = "delegated"


class MinutesStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class Confirmation(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    OBJECTION = "objection"


class SourceKind(enum.StrEnum):
    """Where a change came from; the history row's `source` says exactly which one."""

    CLI = "cli"
    MAIL = "mail"
    RULE = "rule"
    SYSTEM = "system"


class InboundStatus(enum.StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"
    FAILED = "failed"
    QUARANTINED = "quarantined"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


LABELS_ZH = {
    ItemStatus.NOT_STARTED: "未开始",
    ItemStatus.IN_PROGRESS: "进行中",
    ItemStatus.DONE: "已完成",
    ItemStatus.BLOCKED: "阻塞",
    ItemStatus.NEEDS_SUPPORT: "需支持",
    ItemStatus.DELAYED: "延期",
    ItemStatus.CANCELLED: "已取消",
    Priority.HIGH: "高",
    Priority.NORMAL: "中",
    Priority.LOW: "低",
    ParticipantRole.LEAD: "主导",
    ParticipantRole.SUPPORT: "配合",
    ParticipantRole.OBSERVER: "监督",
    CollabStatus.ACTIVE: "进行中",
    CollabStatus.ARCHIVED: "已归档",
    CollabStatus.CANCELLED: "已取消",
    CollabStatus.DELETED: "已删除",
    Rsvp.NEEDS_ACTION: "未答复",
    Rsvp.ACCEPTED: "接受",
    Rsvp.DECLINED: "拒绝",
    Rsvp.TENTATIVE: "暂定",
    Rsvp.DELEGATED: "已委派",
    MeetingStatus.SCHEDULED: "已安排",
    AttendeeRole.CHAIR: "主持",
    AttendeeRole.REQUIRED: "必选",
    AttendeeRole.OPTIONAL: "可选",
    MeetingStatus.CANCELLED: "已取消",
    MeetingStatus.ENDED: "已结束",
    MinutesStatus.DRAFT: "草稿",
    MinutesStatus.PUBLISHED: "已发布",
    MinutesStatus.SUPERSEDED: "已被更正版取代",
}

LABELS_EN = {
    ItemStatus.NOT_STARTED: "not started",
    ItemStatus.IN_PROGRESS: "in progress",
    ItemStatus.DONE: "done",
    ItemStatus.BLOCKED: "blocked",
    ItemStatus.NEEDS_SUPPORT: "needs support",
    ItemStatus.DELAYED: "delayed",
    ItemStatus.CANCELLED: "cancelled",
    Priority.HIGH: "high",
    Priority.NORMAL: "normal",
    Priority.LOW: "low",
    ParticipantRole.LEAD: "lead",
    ParticipantRole.SUPPORT: "support",
    ParticipantRole.OBSERVER: "observer",
    CollabStatus.ACTIVE: "active",
    CollabStatus.ARCHIVED: "archived",
    CollabStatus.CANCELLED: "cancelled",
    CollabStatus.DELETED: "deleted",
    Rsvp.NEEDS_ACTION: "no answer",
    Rsvp.ACCEPTED: "accepted",
    Rsvp.DECLINED: "declined",
    Rsvp.TENTATIVE: "tentative",
    Rsvp.DELEGATED: "delegated",
    MeetingStatus.SCHEDULED: "scheduled",
    AttendeeRole.CHAIR: "chair",
    AttendeeRole.REQUIRED: "required",
    AttendeeRole.OPTIONAL: "optional",
    MeetingStatus.CANCELLED: "cancelled",
    MeetingStatus.ENDED: "ended",
    MinutesStatus.DRAFT: "draft",
    MinutesStatus.PUBLISHED: "published",
    MinutesStatus.SUPERSEDED: "superseded",
}


def label(value: enum.StrEnum, locale: str) -> str:
    """The word a person reads for an enum value, in their locale."""
    table = LABELS_EN if locale == Locale.EN else LABELS_ZH
    return table.get(value, value.value)
