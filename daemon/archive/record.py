"""A collaboration's record as plain tables, laid out like the seed forms (seed 000 跨部门协作
沟通记录与跟进表, seed 003 模板1–3): what the xlsx and the html writers both print.

Building the tables once keeps the workbook and the web page saying the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..calendar.ended import has_ended
from ..closing import retrospective
from ..closing.acceptance import rounds
from ..ledger.wording import action_words, change_words, value_words
from ..mail.reply import decode
from ..store.models import (
    AcceptanceRequest,
    ActionItem,
    Collaboration,
    HistoryEntry,
    ItemStatus,
    Meeting,
    MeetingStatus,
    Minutes,
    OutboxMessage,
    OutboxStatus,
    SourceKind,
    Verdict,
    label,
)

if TYPE_CHECKING:
    from ..app import App

LOCALE = "zh-CN"  # the record follows the seed forms, which are Chinese
VERDICT_WORDS = {Verdict.PENDING: "待验收", Verdict.ACCEPTED: "通过", Verdict.REJECTED: "不通过"}
SOURCE_WORDS = {
    SourceKind.MAIL: "邮件",
    SourceKind.CLI: "命令行",
    SourceKind.RULE: "规则",
    SourceKind.SYSTEM: "系统",
}
PROGRESS_FIELDS = {"status", "progress"}
FEEDBACK_FIELDS = {"note", "support_needed"}


@dataclass(frozen=True)
class Column:
    header: str
    width: int  # in Excel character units; the html ignores it
    kind: str = "text"  # text, wrap, date, datetime, number, status, verdict


@dataclass
class Sheet:
    name: str  # the worksheet tab
    title: str  # the heading above the table in the html
    columns: list[Column]
    rows: list[list[object]] = field(default_factory=list)


@dataclass
class MinutesMail:
    subject: str
    sent_at: datetime
    recipients: int
    text: str


@dataclass
class Record:
    code: str
    theme: str
    generated_at: datetime
    sheets: list[Sheet]
    minutes_mails: list[MinutesMail]


def local(app: App, instant: datetime | None) -> datetime | None:
    """Excel has no time zones: instants are written as the configured zone's wall time."""
    if instant is None:
        return None
    return instant.astimezone(app.settings.tz).replace(tzinfo=None, second=0, microsecond=0)


def build(session: Session, app: App, collab: Collaboration, archive_note: str = "") -> Record:
    items = list(
        session.scalars(
            select(ActionItem)
            .where(ActionItem.collaboration_id == collab.id)
            .order_by(ActionItem.number)
        )
    )
    trail = {item.id: rounds(session, item) for item in items}
    retro = retrospective.find(session, collab)
    sheets = [
        overview_sheet(app, collab, items, trail, retro, archive_note),
        meetings_sheet(session, app, collab),
        items_sheet(items, trail),
        followup_sheet(session, app, collab, items),
        resources_sheet(session, app, collab, items),
        acceptance_sheet(app, items, trail),
        retrospective_sheet(app, retro),
        late_sheet(items, retro),
    ]
    return Record(
        code=collab.code,
        theme=collab.theme,
        generated_at=app.clock.now(),
        sheets=sheets,
        minutes_mails=minutes_mails(session, collab),
    )


def overview_sheet(app, collab, items, trail, retro, archive_note) -> Sheet:
    """基本信息 and 结果与总结, as the seed form has them: one label, one value per row."""
    done = sum(1 for i in items if i.status is ItemStatus.DONE)
    accepted = sum(1 for i in items if trail[i.id] and trail[i.id][-1].verdict is Verdict.ACCEPTED)
    participants = "\n".join(
        f"{p.department.name}（{label(p.role, LOCALE)}）：{p.contact.name} <{p.contact.email}>"
        for p in collab.participants
    )
    dates = f"{_day(collab.start_date)} 至 {_day(collab.end_date)}"
    answers = len(retro.answers) if retro else 0
    summary = (
        f"复盘于 {_minute(app, retro.requested_at)} 发起，收到 {answers} 份答复；"
        f"延期行动项 {len(retro.late_items)} 项（见“复盘总结”“延期分析”）"
        if retro
        else "尚未复盘"
    )
    rows = [
        ["协作主题", collab.theme],
        ["协作编号", collab.code],
        ["发起部门", collab.initiating_department.name if collab.initiating_department else "—"],
        ["发起人", f"{collab.initiator.name} <{collab.initiator.email}>"],
        ["协调人", f"{collab.coordinator.name} <{collab.coordinator.email}>"],
        ["参与部门及对接人", participants],
        ["协作起止时间", dates],
        ["协作目标", collab.goal or "—"],
        ["背景材料", collab.background or "—"],
        ["状态", label(collab.status, LOCALE)],
        ["成果验收情况", f"行动项 {len(items)} 项，已完成 {done} 项，验收通过 {accepted} 项"],
        ["复盘总结", summary],
        ["归档说明", archive_note or "—"],
    ]
    return Sheet(
        "协作概况",
        "协作概况（基本信息 / 结果与总结）",
        [Column("项目", 18), Column("内容", 90, "wrap")],
        rows,
    )


def meetings_sheet(session: Session, app: App, collab: Collaboration) -> Sheet:
    """Seed 003 模板3 跨部门会议纪要表, one row per meeting with its latest minutes."""
    columns = [
        Column("会议主题", 28, "wrap"),
        Column("时间", 17, "datetime"),
        Column("地点/线上", 20, "wrap"),
        Column("参会人", 28, "wrap"),
        Column("主持人", 10),
        Column("记录人", 10),
        Column("议题与讨论", 40, "wrap"),
        Column("共识事项", 32, "wrap"),
        Column("下一步计划", 32, "wrap"),
        Column("纪要", 12),
    ]
    rows = []
    meetings = session.scalars(
        select(Meeting).where(Meeting.collaboration_id == collab.id).order_by(Meeting.starts_at)
    )
    for meeting in meetings:
        minutes = session.scalar(
            select(Minutes)
            .where(Minutes.meeting_id == meeting.id)
            .order_by(Minutes.version.desc())
            .limit(1)
        )
        attendees = "、".join(a.person.name if a.person else a.email for a in meeting.attendees)
        rows.append(
            [
                meeting.title,
                local(app, meeting.starts_at),
                " / ".join(x for x in (meeting.location, meeting.online_url) if x) or "—",
                attendees or "—",
                meeting.host.name if meeting.host else "—",
                meeting.recorder.name if meeting.recorder else "—",
                minutes.discussion if minutes else "",
                minutes.decisions if minutes else "",
                minutes.next_steps if minutes else "",
                _minutes_state(meeting, minutes, app.clock.now()),
            ]
        )
    return Sheet("会议纪要", "会议与纪要", columns, rows)


def _minutes_state(meeting: Meeting, minutes: Minutes | None, now: datetime) -> str:
    """The 纪要 cell: the version in force, or why there is none — a cancelled meeting has
    no minutes to submit, and one still ahead has none yet."""
    if minutes is not None:
        return f"第{minutes.version}版 {label(minutes.status, LOCALE)}"
    if meeting.status is MeetingStatus.CANCELLED:
        why = f"：{meeting.description}" if meeting.description else ""
        return f"会议{label(MeetingStatus.CANCELLED, LOCALE)}{why}"
    if not has_ended(meeting, now):
        return "会议尚未召开"
    return "未提交"


ITEM_COLUMNS = [
    Column("编号", 6),
    Column("任务", 36, "wrap"),
    Column("负责人", 10),
    Column("协作人", 14, "wrap"),
    Column("所属部门", 12),
    Column("优先级", 8),
    Column("截止日期", 12, "date"),
    Column("状态", 10, "status"),
    Column("进度(%)", 8, "number"),
    Column("完成标准", 30, "wrap"),
    Column("所需支持", 24, "wrap"),
    Column("依赖", 10),
    Column("验收", 10, "verdict"),
    Column("交付物", 30, "wrap"),
    Column("备注", 36, "wrap"),
]


def item_row(item: ActionItem, trail: list[AcceptanceRequest]) -> list[object]:
    """Seed 003 模板1 跨部门任务协作表: one action item, with the columns people asked
    for beside the seed's (progress, done-criteria, support, dependencies, acceptance)."""
    latest = trail[-1] if trail else None
    files = "\n".join(d.filename for d in latest.deliverables) if latest else ""
    return [
        f"#{item.number}",
        item.description,
        item.owner.name,
        "、".join(p.name for p in item.collaborators) or "—",
        item.owner_department.name if item.owner_department else "—",
        label(item.priority, LOCALE),
        item.deadline,
        label(item.status, LOCALE),
        item.progress,
        item.done_criteria or "—",
        item.support_needed or "—",
        "、".join(f"#{d.number}" for d in item.depends_on) or "—",
        VERDICT_WORDS[latest.verdict] if latest else "—",
        files or "—",
        item.note or "—",
    ]


def items_sheet(items: list[ActionItem], trail: dict[int, list[AcceptanceRequest]]) -> Sheet:
    return Sheet(
        "行动项",
        "行动项清单",
        ITEM_COLUMNS,
        [item_row(item, trail[item.id]) for item in items],
    )


def followup_sheet(
    session: Session, app: App, collab: Collaboration, items: list[ActionItem]
) -> Sheet:
    """Seed 000 跟进记录: every update with its time and where it came from. History rows
    written by one cause (one mail, one command) for one item are one update."""
    numbers = {item.id: item.number for item in items}
    entries = session.scalars(
        select(HistoryEntry)
        .where(HistoryEntry.collaboration_id == collab.id)
        .order_by(HistoryEntry.id)
    )
    grouped: list[tuple[tuple, list[HistoryEntry]]] = []
    for entry in entries:
        key = (entry.at, entry.source, entry.entity, entry.entity_id)
        if grouped and grouped[-1][0] == key:
            grouped[-1][1].append(entry)
        else:
            grouped.append((key, [entry]))
    rows = []
    for (_, _, entity, entity_id), group in grouped:
        progress, feedback, adjustment = [], [], []
        for entry in group:
            text = _describe(entry)
            if entry.field in PROGRESS_FIELDS or entry.action in (
                "created",
                "delivered",
                "acceptance_requested",
                "acceptance_accepted",
                "acceptance_rejected",
            ):
                progress.append(text)
            elif entry.field in FEEDBACK_FIELDS:
                feedback.append(text)
            else:
                adjustment.append(text)
        first = group[0]
        rows.append(
            [
                local(app, first.at),
                f"#{numbers[entity_id]}" if entity == "item" and entity_id in numbers else "—",
                "\n".join(progress),
                "\n".join(feedback),
                "\n".join(adjustment),
                first.actor,
                SOURCE_WORDS.get(first.source_kind, first.source_kind.value),
                first.source,
            ]
        )
    columns = [
        Column("更新时间", 17, "datetime"),
        Column("行动项", 8),
        Column("进度更新", 36, "wrap"),
        Column("问题与反馈", 30, "wrap"),
        Column("调整说明", 30, "wrap"),
        Column("操作人", 24),
        Column("方式", 8),
        Column("来源", 48),
    ]
    return Sheet("跟进记录", "跟进记录（每次更新、时间与来源）", columns, rows)


def _describe(entry: HistoryEntry) -> str:
    """One history row in words (ledger/wording.py), as the seed's 跟进记录 says it."""
    if entry.field:
        if entry.field in FEEDBACK_FIELDS:
            return value_words(entry.field, entry.new_value, LOCALE)
        return change_words(entry.field, entry.old_value, entry.new_value, LOCALE)
    text = f"{action_words(entry.action, LOCALE)}：{entry.new_value or ''}".rstrip("：")
    return f"{text}（{entry.note}）" if entry.note else text


def resources_sheet(
    session: Session, app: App, collab: Collaboration, items: list[ActionItem]
) -> Sheet:
    """Seed 000 资源需求与支持: what was asked for, when, by whom, and where it stands."""
    by_id = {item.id: item for item in items}
    rows = []
    for item in items:
        # Asked for when the item was created (the collaboration file's `support`), unless
        # a later change says what it was then.
        initial = _first_support(session, item)
        initial = item.support_needed if initial is None else initial
        if initial:
            rows.append(
                [
                    local(app, item.created_at),
                    f"#{item.number}",
                    item.owner.name,
                    initial,
                    label(item.status, LOCALE),
                    "行动项创建时提出",
                ]
            )
    entries = session.scalars(
        select(HistoryEntry)
        .where(
            HistoryEntry.collaboration_id == collab.id,
            HistoryEntry.entity == "item",
            HistoryEntry.field == "support_needed",
        )
        .order_by(HistoryEntry.id)
    )
    for entry in entries:
        item = by_id.get(entry.entity_id)
        if item is None or not entry.new_value:
            continue
        rows.append(
            [
                local(app, entry.at),
                f"#{item.number}",
                entry.actor,
                entry.new_value,
                label(item.status, LOCALE),
                entry.source,
            ]
        )
    rows.sort(key=lambda row: row[0])
    columns = [
        Column("提出时间", 17, "datetime"),
        Column("行动项", 8),
        Column("提出人", 24),
        Column("所需支持", 48, "wrap"),
        Column("行动项状态", 10, "status"),
        Column("来源", 40),
    ]
    return Sheet("资源需求", "资源需求与支持", columns, rows)


def _first_support(session: Session, item: ActionItem) -> str | None:
    """The item's support need before any change was recorded, if it was changed later."""
    entry = session.scalar(
        select(HistoryEntry)
        .where(
            HistoryEntry.entity == "item",
            HistoryEntry.entity_id == item.id,
            HistoryEntry.field == "support_needed",
        )
        .order_by(HistoryEntry.id)
        .limit(1)
    )
    return None if entry is None else (entry.old_value or "")


def acceptance_sheet(
    app: App, items: list[ActionItem], trail: dict[int, list[AcceptanceRequest]]
) -> Sheet:
    """成果验收: every round of every item, with its files and the receiver's words."""
    rows = []
    for item in items:
        for request in trail[item.id]:
            rows.append(
                [
                    f"#{item.number}",
                    item.description,
                    item.done_criteria or "—",
                    request.round,
                    "\n".join(
                        f"{d.filename}（sha256 {d.sha256[:12]}）" for d in request.deliverables
                    )
                    or "—",
                    VERDICT_WORDS[request.verdict],
                    local(app, request.requested_at),
                    request.receiver.name,
                    local(app, request.decided_at),
                    request.note or "",
                ]
            )
    columns = [
        Column("行动项", 8),
        Column("任务", 30, "wrap"),
        Column("完成标准", 32, "wrap"),
        Column("轮次", 6, "number"),
        Column("交付物", 36, "wrap"),
        Column("结果", 9, "verdict"),
        Column("提交时间", 17, "datetime"),
        Column("验收人", 10),
        Column("验收时间", 17, "datetime"),
        Column("意见", 36, "wrap"),
    ]
    return Sheet("成果验收", "成果验收", columns, rows)


def retrospective_sheet(app: App, retro) -> Sheet:
    rows = []
    if retro is not None:
        for answer in retro.answers:
            person = answer.person
            rows.append(
                [
                    person.name,
                    person.department.name if person.department else "—",
                    answer.highlights or "",
                    answer.shortfalls or "",
                    answer.suggestions or "",
                    answer.text if not (answer.highlights or answer.shortfalls) else "",
                    local(app, answer.answered_at),
                ]
            )
    columns = [
        Column("参与人", 10),
        Column("部门", 10),
        Column("亮点", 36, "wrap"),
        Column("不足", 36, "wrap"),
        Column("改进建议", 36, "wrap"),
        Column("其他", 30, "wrap"),
        Column("提交时间", 17, "datetime"),
    ]
    return Sheet("复盘总结", "复盘总结（亮点 / 不足 / 改进建议）", columns, rows)


def late_sheet(items: list[ActionItem], retro) -> Sheet:
    """Seed 003 模板2 项目进度跟踪表, for the items that missed their deadline."""
    rows = []
    if retro is not None:
        for late in retro.late_items:
            rows.append(
                [
                    f"#{late.item.number}",
                    late.item.description,
                    late.item.owner.name,
                    late.deadline,
                    late.finished_on,
                    late.days_late,
                    late.cause,
                ]
            )
    columns = [
        Column("行动项", 8),
        Column("任务", 30, "wrap"),
        Column("负责人", 10),
        Column("计划完成时间", 13, "date"),
        Column("实际完成时间", 13, "date"),
        Column("延期天数", 9, "number"),
        Column("延期原因", 60, "wrap"),
    ]
    return Sheet("延期分析", "延期分析（延期原因取自进度记录）", columns, rows)


def minutes_mails(session: Session, collab: Collaboration) -> list[MinutesMail]:
    """The minutes exactly as collabd mailed them: one copy per version of the minutes."""
    sent = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.collaboration_id == collab.id,
            OutboxMessage.minutes_id.is_not(None),
            OutboxMessage.status == OutboxStatus.SENT,
        )
        .order_by(OutboxMessage.id)
    )
    first: dict[int, OutboxMessage] = {}
    counts: dict[int, int] = {}
    for row in sent:
        first.setdefault(row.minutes_id, row)
        counts[row.minutes_id] = counts.get(row.minutes_id, 0) + 1
    mails = []
    for minutes_id, row in first.items():
        body, _is_html = decode.best_body(decode.load(row.raw))
        mails.append(MinutesMail(row.subject, row.sent_at, counts[minutes_id], body))
    return mails


def folder_name(collab: Collaboration, app: App) -> str:
    """`YYYY-MM-主题`: the month the collaboration started (seed 000 归档说明)."""
    started = collab.start_date or collab.created_at.astimezone(app.settings.tz).date()
    theme = "".join("_" if ch in '<>:"/\\|?*' or ord(ch) < 32 else ch for ch in collab.theme)
    theme = _cut_to_bytes(" ".join(theme.split()), MAX_THEME_BYTES).strip(" .") or collab.code
    return f"{started:%Y-%m}-{theme}"


# A file name is at most 255 bytes, and a CJK character is 3 of them in UTF-8: 80 characters
# of theme plus the staging folder's ".…partial" crashed `archive` (ENAMETOOLONG).
MAX_THEME_BYTES = 180


def _cut_to_bytes(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 fits in `limit` bytes (whole characters)."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def _minute(app: App, instant: datetime) -> str:
    return instant.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M")
