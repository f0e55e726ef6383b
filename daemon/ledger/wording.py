"""The history in people's words: a field name, a value and an action as a reader says them
in zh-CN or en (`状态：未开始 → 进行中`, `建议新时间（li.na@…）：— → 2026-11-26 10:00`), never
the ledger's ids (`status: not_started → in_progress`, `proposal: None → …`).

Used by what people read: `items show`, `meeting show`, `collab show` and the archive's
跟进记录. History rows keep the ids; only their reading is translated.
"""

from __future__ import annotations

import enum

from ..store.models import (
    AttendeeRole,
    CollabStatus,
    ItemStatus,
    MeetingStatus,
    ParticipantRole,
    Priority,
    Rsvp,
    Verdict,
    label,
)

# field (before any ":who") -> (zh-CN, en)
FIELDS = {
    "status": ("状态", "status"),
    "progress": ("进度", "progress"),
    "deadline": ("截止日期", "deadline"),
    "priority": ("优先级", "priority"),
    "note": ("备注", "note"),
    "support_needed": ("所需支持", "support needed"),
    "description": ("任务", "task"),
    "done_criteria": ("完成标准", "done when"),
    "owner": ("负责人", "owner"),
    "receiver": ("验收人", "receiver"),
    "collaborators": ("协作人", "collaborators"),
    "depends_on": ("依赖", "depends on"),
    "start": ("时间", "time"),
    "duration": ("时长（分钟）", "length (minutes)"),
    "title": ("主题", "title"),
    "location": ("地点", "place"),
    "online_url": ("线上会议", "online meeting"),
    "host": ("主持人", "host"),
    "recorder": ("记录人", "recorder"),
    "attendee_added": ("新增参会人", "attendee added"),
    "attendee_removed": ("移除参会人", "attendee removed"),
    "agenda": ("议程", "agenda"),
    "attachments": ("附件", "files"),
    "rsvp": ("答复", "answer"),
    "proposal": ("建议新时间", "proposed time"),
    "version": ("版本", "version"),
    "confirmation": ("确认", "confirmation"),
    "delay_request": ("延期申请", "delay request"),
    "acceptance": ("验收", "acceptance"),
    # a collaboration's own fields, and a department's part in it
    "theme": ("主题", "theme"),
    "goal": ("目标", "goal"),
    "background": ("背景材料", "background"),
    "start_date": ("开始日期", "start date"),
    "end_date": ("结束日期", "end date"),
    "coordinator": ("协调人", "coordinator"),
    "participant": ("参与部门", "department"),
    "contact": ("对接人", "contact"),
    "role": ("角色", "role"),
    "duties": ("职责", "duties"),
}
# The closed sets a field's values come from, tried in turn.
VALUES: dict[str, tuple[type[enum.StrEnum], ...]] = {
    "status": (ItemStatus, MeetingStatus, CollabStatus),
    "priority": (Priority,),
    "rsvp": (Rsvp,),
    "role": (ParticipantRole, AttendeeRole),
    "acceptance": (Verdict,),
}
ACTIONS = {
    "created": ("新建", "created"),
    "changed": ("修改", "changed"),
    "scheduled": ("已安排", "scheduled"),
    "cancelled": ("已取消", "cancelled"),
    "ended": ("已结束", "ended"),
    "notice_waived": ("紧急会议（未满提前通知期）", "urgent (short notice)"),
    "delivered": ("提交成果物", "delivered"),
    "acceptance_requested": ("请求验收", "acceptance requested"),
    "acceptance_accepted": ("验收通过", "accepted"),
    "acceptance_rejected": ("验收不通过", "rejected"),
    "participant_added": ("参与部门", "department added"),
    "retrospective_requested": ("发起复盘", "retrospective requested"),
    "retrospective_answered": ("复盘答复", "retrospective answered"),
    "delay_withdrawn": ("延期申请撤回", "delay request withdrawn"),
    "archived": ("归档", "archived"),
    "published": ("发布纪要", "minutes published"),
    "confirmed": ("确认纪要", "minutes confirmed"),
    "imported": ("导入", "imported"),
}


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[1] if locale == "en" else pair[0]


def field_words(field: str, locale: str) -> str:
    base, _, whose = field.partition(":")
    name = _pick(FIELDS[base], locale) if base in FIELDS else base
    if not whose:
        return name
    return f"{name} ({whose})" if locale == "en" else f"{name}（{whose}）"


def value_words(field: str, value: object, locale: str) -> str:
    if value is None or value == "":
        return "—"
    text = str(getattr(value, "value", value))
    for kind in VALUES.get(field.partition(":")[0], ()):
        try:
            return label(kind(text), locale)
        except ValueError:
            continue
    if field == "progress":
        return f"{text}%"
    return text


def change_words(field: str, old: object, new: object, locale: str) -> str:
    colon = ": " if locale == "en" else "："
    old_text, new_text = value_words(field, old, locale), value_words(field, new, locale)
    return f"{field_words(field, locale)}{colon}{old_text} → {new_text}"


def action_words(action: str, locale: str) -> str:
    return _pick(ACTIONS[action], locale) if action in ACTIONS else action
