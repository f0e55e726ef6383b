"""The retrospective (复盘, seed 001: 亮点 / 不足 / 改进建议): asked once per collaboration, when
every item is done and accepted or when the coordinator closes it; answers are collected from
replies; items that ran late get their cause from their own history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..ledger.history import Origin, record, record_on
from ..ledger.items import item_history
from ..mail.outbox import queue_mail
from ..store.models import (
    ActionItem,
    Collaboration,
    ItemStatus,
    LateItem,
    Person,
    Retrospective,
    RetrospectiveAnswer,
    Verdict,
    label,
)
from .acceptance import latest_request

if TYPE_CHECKING:
    from ..app import App

REQUEST_KIND = "retrospective_request"
ALL_ACCEPTED = "all_accepted"
CLOSED = "closed"

# Words that open a section of an answer, in the three languages people write them in.
# Heading words people use for the three questions (longest first within a section).
_SECTIONS = {
    "highlights": (
        r"亮点|亮點|做得好的(?:地方|方面)?|做得好|做的好的|好的方面|优点|優點|收获|收穫"
        r"|highlights?|what went well|went well|positives?|strengths?"
    ),
    "shortfalls": (
        r"不足之处|不足|问题与不足|遇到的问题|存在的问题|问题|問題|待改进|待改進"
        r"|做得不好的(?:地方)?|做得不够的|不够好的|教训|教訓|缺点|缺點"
        r"|shortfalls?|what went wrong|went wrong|what didn'?t go well|didn'?t go well"
        r"|weaknesses?|lessons learned"
    ),
    "suggestions": (
        r"改进建议|改進建議|改进措施|改进|改進|建议|建議|下一步|next time|to improve"
        r"|suggestions?|improvements?|what could be improved|could be better"
    ),
}
_HEADING = re.compile(
    r"^\s*(?:[-*•·]\s*|\d{1,2}[.、)]\s*)?(?P<label>"
    + "|".join(f"(?P<{name}>{words})" for name, words in _SECTIONS.items())
    + r")\s*[:：]?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)


def find(session: Session, collaboration: Collaboration) -> Retrospective | None:
    return session.scalar(
        select(Retrospective).where(Retrospective.collaboration_id == collaboration.id)
    )


def participants(collaboration: Collaboration, items: list[ActionItem]) -> list[Person]:
    """Everyone who took part: initiator, coordinator, department contacts, owners and
    collaborators; each once."""
    people: dict[int, Person] = {}
    for person in (
        collaboration.initiator,
        collaboration.coordinator,
        *(p.contact for p in collaboration.participants),
        *(i.owner for i in items),
        *(c for i in items for c in i.collaborators),
    ):
        people.setdefault(person.id, person)
    return list(people.values())


def start(
    session: Session, app: App, collaboration: Collaboration, reason: str, origin: Origin
) -> Retrospective | None:
    """Ask everyone to look back, once. None when it was asked already."""
    if find(session, collaboration) is not None:
        return None
    now = app.clock.now()
    retro = Retrospective(
        collaboration_id=collaboration.id, requested_at=now, reason=reason, source=origin.source
    )
    session.add(retro)
    session.flush()
    items = list(
        session.scalars(
            select(ActionItem)
            .where(ActionItem.collaboration_id == collaboration.id)
            .order_by(ActionItem.number)
        )
    )
    today = now.astimezone(app.settings.tz).date()
    for late in late_items(session, app, items, today):
        session.add(
            LateItem(
                retrospective_id=retro.id,
                item_id=late.item.id,
                deadline=late.item.deadline,
                finished_on=late.finished_on,
                days_late=late.days_late,
                cause=late.cause,
            )
        )
    record_on(
        session,
        origin,
        now,
        collaboration,
        action="retrospective_requested",
        new=reason,
    )
    session.flush()
    session.refresh(retro, ["late_items"])
    for person in participants(collaboration, items):
        queue_mail(
            session,
            app,
            now=now,
            kind=REQUEST_KIND,
            dedupe_key=f"retrospective:{collaboration.id}:{person.id}",
            to=person,
            context={
                "collab": collaboration,
                "items": items,
                "late_items": retro.late_items,
                "reason": reason,
            },
            collaboration_id=collaboration.id,
        )
    return retro


@dataclass(frozen=True)
class Late:
    item: ActionItem
    finished_on: date | None
    days_late: int
    cause: str


def finished_on(session: Session, app: App, item: ActionItem) -> date | None:
    """The day the work was handed over: the delivery of the accepted round, else the day the
    item was marked done; None while it is open."""
    latest = latest_request(session, item)
    if latest is not None and latest.verdict is Verdict.ACCEPTED:
        return latest.requested_at.astimezone(app.settings.tz).date()
    if item.status is ItemStatus.DONE:
        return item.status_since.astimezone(app.settings.tz).date()
    return None


def late_items(session: Session, app: App, items: list[ActionItem], today: date) -> list[Late]:
    found = []
    for item in items:
        if item.deadline is None:
            continue
        finished = finished_on(session, app, item)
        end = finished or today
        if end <= item.deadline:
            continue
        found.append(Late(item, finished, (end - item.deadline).days, cause(session, item)))
    return found


def cause(session: Session, item: ActionItem) -> str:
    """Why it ran late, in the item's own words: each block, support request and delay with
    the note that came with it, and each rejected acceptance round."""
    history = item_history(session, item)
    notes = {(h.source, h.at): h.new_value for h in history if h.field == "note"}
    causes = []
    for entry in history:
        day = f"{entry.at:%m-%d}"
        if entry.field == "status" and entry.new_value in (
            ItemStatus.BLOCKED,
            ItemStatus.NEEDS_SUPPORT,
            ItemStatus.DELAYED,
        ):
            word = label(ItemStatus(entry.new_value), "zh-CN")
            note = notes.get((entry.source, entry.at)) or ""
            causes.append(f"{day} {word}" + (f"：{note}" if note else ""))
        elif entry.action == "acceptance_rejected":
            causes.append(f"{day} {_rejected(entry.note or '')}")
    return "；".join(causes) or "未记录原因"


_ROUND_NOTE = re.compile(r"^round (?P<round>\d+)(?::\s*(?P<why>.*))?$", re.S)


def _rejected(note: str) -> str:
    """A rejected round as a reader says it: the history note `round 1: 缺少…` (written by
    closing/acceptance.py) becomes 第1轮验收不通过：缺少…"""
    match = _ROUND_NOTE.match(note.strip())
    if match is None:
        return f"验收不通过（{note}）" if note else "验收不通过"
    why = (match["why"] or "").strip()
    return f"第{match['round']}轮验收不通过" + (f"：{why}" if why else "")


def read_answer(text: str) -> dict[str, str]:
    """亮点 / 不足 / 改进建议 sections of a typed answer; lines before any heading are kept only
    in the full text."""
    sections: dict[str, list[str]] = {name: [] for name in _SECTIONS}
    current = None
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            current = next(name for name in _SECTIONS if match.group(name))
            if match.group("rest").strip():
                sections[current].append(match.group("rest").strip())
        elif current and line.strip():
            sections[current].append(line.strip())
    return {name: "\n".join(lines) for name, lines in sections.items()}


def record_answer(
    session: Session,
    app: App,
    retro: Retrospective,
    person: Person,
    text: str,
    origin: Origin,
) -> RetrospectiveAnswer:
    parts = read_answer(text)
    answer = RetrospectiveAnswer(
        retrospective_id=retro.id,
        person_id=person.id,
        highlights=parts["highlights"],
        shortfalls=parts["shortfalls"],
        suggestions=parts["suggestions"],
        text=text.strip(),
        source=origin.source,
        answered_at=app.clock.now(),
    )
    session.add(answer)
    record(
        session,
        origin,
        app.clock.now(),
        entity="collaboration",
        entity_id=retro.collaboration_id,
        collaboration_id=retro.collaboration_id,
        action="retrospective_answered",
        new=person.email,
    )
    session.flush()
    return answer
