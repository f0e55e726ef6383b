"""The weekly digest (seed: 每周五下午): every item of a collaboration with a red/amber/green
status, overdue and blocked first, and a Gantt picture, to the initiator, the coordinator
and the departments' contact persons. A digest missed by more than `late_within` (collabd
was down over the weekend) is skipped: last Friday's picture on Tuesday misleads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..store.models import (
    CLOSED_STATUSES,
    ActionItem,
    Collaboration,
    CollabStatus,
    ItemStatus,
    RuleSchedule,
)
from .dependencies import risk_cause
from .reasons import reason
from .recipients import resolve

if TYPE_CHECKING:
    from .evaluation import Pass

RULE_ID = "digest.weekly"
SUBJECT = "global"


def occurrences(rules, after: datetime | None) -> Iterator[datetime]:
    """Weekly at the configured weekday and time; a holiday moves it to the last working day
    before it in the same week, and a week with none has no digest."""
    spec = rules.spec.digest
    weekday = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    target = weekday.index(spec.weekday)
    start = (after or datetime(2000, 1, 3, tzinfo=rules.zone)).astimezone(rules.zone).date()
    monday = start - timedelta(days=start.weekday())
    for _ in range(600):
        day = monday + timedelta(days=target)
        while day >= monday and not rules.calendar.is_working_day(day):
            day -= timedelta(days=1)
        if day >= monday:
            due = datetime.combine(day, spec.at, rules.zone)
            if after is None or due > after:
                yield due
        monday += timedelta(days=7)


def run(run: Pass) -> None:
    spec = run.rules.spec.digest
    if not spec.enabled:
        return
    session = run.session
    row = session.scalar(
        select(RuleSchedule).where(RuleSchedule.rule_id == RULE_ID, RuleSchedule.subject == SUBJECT)
    )
    if row is None:
        # Starts with the next digest time: a new ledger gets no digest for weeks gone by.
        row = RuleSchedule(
            rule_id=RULE_ID,
            subject=SUBJECT,
            episode="",
            level=0,
            rule_version="",
            snapshot="",
            last_due_at=run.now,
            next_due_at=next(occurrences(run.rules, run.now)),
            updated_at=run.now,
        )
        session.add(row)
        return
    if row.next_due_at is None or row.next_due_at > run.now:
        if row.next_due_at is None:
            row.next_due_at = next(occurrences(run.rules, row.last_due_at or run.now))
        return
    due = row.next_due_at
    row.last_due_at = due
    row.next_due_at = next(occurrences(run.rules, max(due, run.now)))
    if run.now - due > spec.late_within.as_timedelta():
        missed = reason("digest_missed", due=due.astimezone(run.rules.zone))
        run.note(RULE_ID, 0, "skipped", "digest", [missed])
        return
    week = due.astimezone(run.rules.zone).date().isocalendar()
    today = run.now.astimezone(run.rules.zone).date()
    collabs = session.scalars(
        select(Collaboration)
        .where(Collaboration.status == CollabStatus.ACTIVE)
        .order_by(Collaboration.code)
    )
    for collab in collabs:
        items = list(
            session.scalars(
                select(ActionItem)
                .where(
                    ActionItem.collaboration_id == collab.id,
                    ActionItem.status != ItemStatus.CANCELLED,
                )
                .options(selectinload(ActionItem.owner))
            )
        )
        if not items:
            continue
        rows = ranked(items, today, run.rules.calendar)
        attachments = []
        if spec.gantt:
            from .gantt import gantt_png

            png = gantt_png(rows, today)
            if png is not None:
                attachments = [png]
        people, _ = resolve(list(spec.to), collab, None)
        counts = {
            colour: sum(1 for r in rows if r["rag"] == colour)
            for colour in ("red", "amber", "green")
        }
        for person, role in people:
            run.send(
                rule=RULE_ID,
                level=0,
                kind="weekly_digest",
                key=f"{RULE_ID}:c{collab.id}:{week.year}-W{week.week:02d}:p{person.id}",
                to=person,
                context={
                    "collab": collab,
                    "rows": rows,
                    "today": today,
                    "counts": counts,
                    "gantt": bool(attachments),
                },
                subject=f"digest {collab.code}",
                reasons=[
                    reason("digest", weekday=spec.weekday, at=spec.at, week=week.week),
                    reason("as_role", role=role),
                ],
                collaboration_id=collab.id,
                attachments=attachments,
            )


def ranked(items: list[ActionItem], today: date, calendar) -> list[dict]:
    """Items with a red/amber/green verdict, the worst first.

    red: overdue, blocked, or needs support; amber: due within 2 working days, or delayed;
    green: on track or done."""
    rows = []
    for item in items:
        open_ = item.status not in CLOSED_STATUSES
        overdue = open_ and item.deadline is not None and item.deadline < today
        soon = (
            open_
            and item.deadline is not None
            and not overdue
            and calendar.working_days_between(today, item.deadline) <= 2
        )
        if overdue or item.status in (ItemStatus.BLOCKED, ItemStatus.NEEDS_SUPPORT):
            rag = "red"
        elif (
            soon
            or item.status is ItemStatus.DELAYED
            or (open_ and any(risk_cause(item, d, today) for d in item.depends_on))
        ):
            rag = "amber"
        else:
            rag = "green"
        rows.append(
            {
                "item": item,
                "rag": rag,
                "overdue": overdue,
                "start": item.created_at.date(),
                "deadline": item.deadline,
            }
        )
    order = {"red": 0, "amber": 1, "green": 2}
    rows.sort(
        key=lambda r: (
            order[r["rag"]],
            not r["overdue"],
            r["item"].status is not ItemStatus.BLOCKED,
            r["item"].number,
        )
    )
    return rows
