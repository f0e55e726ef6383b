"""Dependencies that act (seed 001's WBS): when what an item waits for is done, its owner
hears they can start; when it is late, or its deadline is on or after the waiting item's
own, the waiting item is at risk and its owner and the coordinator hear so, once per cause.

One query per pass over the dependency table (small: only items that wait), joined to
both items; the outbox's dedupe key makes "once" hold across ticks and replicas.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..store.models import (
    CLOSED_STATUSES,
    ActionItem,
    Collaboration,
    CollabStatus,
    ItemStatus,
    item_dependencies,
)
from .evaluation import Pass
from .reasons import reason

READY = "dependency.ready"
RISK = "dependency.risk"


def risk_cause(waiting: ActionItem, before: ActionItem, today: date) -> str | None:
    """Why `before` puts `waiting` at risk: late, after (its deadline is not before the
    waiting item's), or None."""
    if before.status in CLOSED_STATUSES or before.deadline is None:
        return None
    if before.deadline < today:
        return "late"
    if waiting.deadline is not None and before.deadline >= waiting.deadline:
        return "after"
    return None


def run(run: Pass) -> None:
    today = run.now.astimezone(run.rules.zone).date()
    waiting, before = aliased(ActionItem), aliased(ActionItem)
    rows = run.session.execute(
        select(waiting, before)
        .join(item_dependencies, item_dependencies.c.item_id == waiting.id)
        .join(before, before.id == item_dependencies.c.depends_on_id)
        .join(Collaboration, Collaboration.id == waiting.collaboration_id)
        .where(
            Collaboration.status == CollabStatus.ACTIVE,
            waiting.status.notin_(CLOSED_STATUSES),
        )
    )
    waits: dict[int, tuple[ActionItem, list[ActionItem]]] = {}
    grouped: dict[int, list[ActionItem]] = defaultdict(list)
    for item, dependency in rows:
        waits.setdefault(item.id, (item, grouped[item.id]))
        grouped[item.id].append(dependency)
    for item, dependencies in waits.values():
        _ready(run, item, dependencies)
        for dependency in dependencies:
            cause = risk_cause(item, dependency, today)
            if cause:
                _at_risk(run, item, dependency, cause, _after(run, item, dependency, today))


def _ready(run: Pass, item: ActionItem, dependencies: list[ActionItem]) -> None:
    if any(d.status not in CLOSED_STATUSES for d in dependencies):
        return
    if not any(d.status is ItemStatus.DONE for d in dependencies):
        return  # every one was cancelled: nothing was delivered to start from
    done = sorted(d.number for d in dependencies)
    run.send(
        rule=READY,
        level=0,
        kind="dependency_ready",
        key=f"{READY}:i{item.id}:" + ",".join(map(str, done)),
        to=item.owner,
        context={"collab": item.collaboration, "item": item, "dependencies": dependencies},
        subject=item.ref,
        reasons=[reason("dependency_done", items=done)],
        collaboration_id=item.collaboration_id,
        item_id=item.id,
    )


def _after(run: Pass, item: ActionItem, dependency: ActionItem, today: date) -> date:
    """The date the mail suggests for the waiting item: the first working day after what it
    waits for is due (after today, and after its own deadline, so that sent back it is a
    real delay and not a day off)."""
    latest = max(d for d in (dependency.deadline, item.deadline, today) if d is not None)
    return run.rules.calendar.add_working_days(latest, 1)


def _at_risk(
    run: Pass, item: ActionItem, dependency: ActionItem, cause: str, suggest: date
) -> None:
    collab = item.collaboration
    for person, role in ((item.owner, "owner"), (collab.coordinator, "coordinator")):
        run.send(
            rule=RISK,
            level=0,
            kind="dependency_risk",
            key=f"{RISK}:i{item.id}:d{dependency.id}:{cause}:{dependency.deadline}:p{person.id}",
            to=person,
            context={
                "collab": collab,
                "item": item,
                "dependency": dependency,
                "cause": cause,
                "role": role,
                "suggest": suggest,
            },
            subject=item.ref,
            reasons=[reason("dependency_risk", item=dependency.number, cause=cause)],
            collaboration_id=item.collaboration_id,
            item_id=item.id,
        )
