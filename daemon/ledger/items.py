"""Action items: handing out #N, changing them (with history), and finding them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import DataError, NotFound, UsageError
from ..store.models import (
    CLOSED_STATUSES,
    AcceptanceRequest,
    ActionItem,
    Collaboration,
    CollabStatus,
    Department,
    HistoryEntry,
    ItemStatus,
    Person,
    Priority,
    Verdict,
)
from .dependencies import refuse_cycles
from .history import Origin, record, record_changes_on
from .people import find_department, find_person
from .specs import ItemSpec

if TYPE_CHECKING:
    from ..app import App

OPEN_STATUSES = tuple(s for s in ItemStatus if s not in CLOSED_STATUSES)
REF_PATTERN = re.compile(r"^(?P<code>[^#\s]+)#(?P<number>\d+)$")


class ArchivedCollaboration(DataError):
    pass


def ensure_active(collaboration: Collaboration | None) -> None:
    """Refuse any change to an archived (or cancelled) collaboration: its archive folder is
    its final record, so the ledger must not drift from it. None (a meeting someone else
    organizes outside any collaboration) is always open."""
    if collaboration is None or collaboration.status is CollabStatus.ACTIVE:
        return
    when = f" on {collaboration.archived_at:%Y-%m-%d}" if collaboration.archived_at else ""
    raise ArchivedCollaboration(
        f"collaboration {collaboration.code} ({collaboration.theme}) is {collaboration.status}"
        f"{when}; it is read-only and its record no longer changes: nothing was done"
    )


def still_active(collaboration_id):  # a SQL column, e.g. Meeting.collaboration_id
    """A WHERE clause keeping rows whose collaboration is active (or that have none), for
    the time-driven jobs: an archived collaboration is chased, reminded and invited no more."""
    return ~(
        select(Collaboration.id)
        .where(Collaboration.id == collaboration_id, Collaboration.status != CollabStatus.ACTIVE)
        .exists()
    )


def next_number(session: Session, collaboration: Collaboration, count: int = 1) -> int:
    """Hand out the next #N in SQL, so two writers can never both get the same number;
    with `count`, a block of numbers of which this is the last."""
    statement = (
        update(Collaboration)
        .where(Collaboration.id == collaboration.id)
        .values(item_seq=Collaboration.item_seq + count)
        .returning(Collaboration.item_seq)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).scalar_one()


def add_items(
    session: Session,
    app: App,
    collaboration: Collaboration,
    specs: list[ItemSpec],
    origin: Origin,
) -> list[ActionItem]:
    """Add several items at once (from a collaboration file, minutes or an imported ledger).
    Records only: daemon.announce.assign_items also tells each owner. One block of numbers
    and one flush for all of them; each person looked up once (a ledger of 1,000 rows
    names the same few people again and again)."""
    ensure_active(collaboration)
    if not specs:
        return []
    now = app.clock.now()
    people: dict[str, Person] = {}
    departments: dict[str, Department] = {}

    def person(ref: str) -> Person:
        if ref not in people:
            people[ref] = find_person(session, ref, collaboration)
        return people[ref]

    def department(name: str) -> Department:
        if name not in departments:
            departments[name] = find_department(session, name)
        return departments[name]

    first = next_number(session, collaboration, len(specs)) - len(specs) + 1
    items: list[ActionItem] = []
    for number, spec in enumerate(specs, start=first):
        owner = person(spec.owner)
        item = ActionItem(
            collaboration=collaboration,
            number=number,
            description=spec.description,
            owner=owner,
            owner_department=department(spec.department) if spec.department else owner.department,
            done_criteria=spec.done_criteria,
            deadline=spec.deadline,
            priority=spec.priority,
            status=ItemStatus.NOT_STARTED,
            status_since=now,
            progress=0,
            support_needed=spec.support,
            note="",
            receiver=person(spec.receiver) if spec.receiver else None,
            created_at=now,
            updated_at=now,
            collaborators=[person(ref) for ref in spec.collaborators],
            depends_on=[],
        )
        session.add(item)
        items.append(item)
    session.flush()
    for item in items:
        record(
            session,
            origin,
            now,
            entity="item",
            entity_id=item.id,
            collaboration_id=collaboration.id,
            action="created",
            new=f"#{item.number} {item.description}",
        )
    if not any(spec.depends_on for spec in specs):
        return items
    by_number = {
        i.number: i
        for i in session.scalars(
            select(ActionItem).where(ActionItem.collaboration_id == collaboration.id)
        )
    }
    for item, spec in zip(items, specs, strict=True):
        for number in spec.depends_on:
            if number not in by_number or number == item.number:
                raise DataError(
                    f"#{item.number} depends on #{number}, which is not another "
                    f"item of {collaboration.code}"
                )
            item.depends_on.append(by_number[number])
    refuse_cycles(session, items)
    return items


@dataclass(frozen=True)
class ItemChange:
    status: ItemStatus | None = None
    progress: int | None = None
    deadline: date | None = None
    priority: Priority | None = None
    note: str | None = None
    support_needed: str | None = None
    description: str | None = None
    done_criteria: str | None = None


# What a done item that is reopened without a percentage shows: near the end, not done.
# How far from done only the owner can say (their next `#N 进行中 P%`).
REOPENED_PROGRESS = 90


class CancelledItem(DataError):
    pass


class DoneItem(DataError):
    """A delay asked for an item that is done: there is no deadline left to move."""


def update_item(
    session: Session,
    app: App,
    item: ActionItem,
    change: ItemChange,
    origin: Origin,
    note: str = "",
) -> list[tuple[str, object, object]]:
    """Apply a change; every field that really changed gets its own history row (with
    `note`, the reason, when one was given)."""
    ensure_active(item.collaboration)
    if item.status is ItemStatus.CANCELLED:
        raise CancelledItem(f"{item.ref} was cancelled; it no longer changes")
    if item.status is ItemStatus.DONE and change.status is ItemStatus.DELAYED:
        raise DoneItem(
            f"{item.ref} is done already; a delay needs an open item (reopen it with "
            "another status first)"
        )
    if change.progress is not None and not 0 <= change.progress <= 100:
        raise DataError(f"#{item.number}: progress {change.progress}% is not between 0 and 100")
    wanted = {name: value for name, value in vars(change).items() if value is not None}
    # What people mean: "#3 60%" on an untouched item says it is under way; done is 100%.
    if "progress" in wanted and "status" not in wanted and item.status is ItemStatus.NOT_STARTED:
        wanted["status"] = ItemStatus.IN_PROGRESS
    if wanted.get("status") is ItemStatus.DONE:
        wanted["progress"] = 100
    elif item.status is ItemStatus.DONE and "status" in wanted and "progress" not in wanted:
        # Reopened (rework after a rejection, 阻塞 after 完成): no longer 100%.
        wanted["progress"] = min(item.progress, REOPENED_PROGRESS)
    now = app.clock.now()
    changes = []
    for name, new in wanted.items():
        old = getattr(item, name)
        if old != new:
            changes.append((name, old, new))
    record_changes_on(session, origin, now, item, changes, note=note)
    if changes:
        values = {name: new for name, _, new in changes}
        values["updated_at"] = now
        if "status" in values:
            values["status_since"] = now
        _write_now(session, item, values)
    return changes


def _write_now(session: Session, item: ActionItem, values: dict[str, object]) -> None:
    """UPDATE the changed fields at once, on the session's connection, and give the object
    the same values as its committed state.

    Replies change one item each, and the ORM's unit of work cost more than the rest of
    the change (bench/ingest.py). The row is written in the caller's transaction like any
    flush; if a savepoint around it rolls back, the caller expires the session (ingest)."""
    statement = _update_statement(tuple(sorted(values)))
    session.connection().execute(
        statement, {"item_id": item.id, **{f"new_{name}": v for name, v in values.items()}}
    )
    for name, value in values.items():
        set_committed_value(item, name, value)


@cache
def _update_statement(names: tuple[str, ...]) -> Update:
    """UPDATE action_items SET <names> WHERE id = :item_id, built once per set of fields."""
    table = ActionItem.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("item_id"))
        .values({name: bindparam(f"new_{name}") for name in names})
    )


def find_item(session: Session, ref: str, collab_code: str | None = None) -> ActionItem:
    """`code#N`, or `N` / `#N` together with --collab."""
    match = REF_PATTERN.match(ref.strip())
    if match:
        collab_code, number = match["code"], int(match["number"])
    elif ref.strip().lstrip("#").isdigit() and collab_code:
        number = int(ref.strip().lstrip("#"))
    else:
        raise UsageError(
            f"{ref!r} is not an item reference; write CODE#N (e.g. v2-launch#3) "
            "or N with --collab CODE"
        )
    item = session.scalar(
        select(ActionItem)
        .join(Collaboration)
        .where(Collaboration.code == collab_code, ActionItem.number == number)
    )
    if item is None:
        raise NotFound(f"{collab_code} has no action item #{number}")
    return item


@dataclass(frozen=True)
class ItemFilter:
    collab: Collaboration | None = None
    owner: Person | None = None
    statuses: tuple[ItemStatus, ...] = ()
    overdue_on: date | None = None  # open items whose deadline is before this day


def query_items(session: Session, wanted: ItemFilter) -> list[ActionItem]:
    query = select(ActionItem).join(Collaboration)
    if wanted.collab is not None:
        query = query.where(ActionItem.collaboration_id == wanted.collab.id)
    if wanted.owner is not None:
        query = query.where(ActionItem.owner_id == wanted.owner.id)
    if wanted.statuses:
        query = query.where(ActionItem.status.in_(wanted.statuses))
    if wanted.overdue_on is not None:
        # Only where someone can still act: an archived or called-off collaboration is
        # read-only, so its open items would sit in "overdue" for good.
        query = query.where(
            ActionItem.status.in_(OPEN_STATUSES),
            ActionItem.deadline < wanted.overdue_on,
            Collaboration.status == CollabStatus.ACTIVE,
        )
    # A ledger is shown whole: its people and dependencies in four queries, not four per item.
    query = query.options(
        selectinload(ActionItem.owner),
        selectinload(ActionItem.owner_department),
        selectinload(ActionItem.collaborators),
        selectinload(ActionItem.depends_on),
    )
    return list(session.scalars(query.order_by(Collaboration.code, ActionItem.number)))


def item_history(session: Session, item: ActionItem) -> list[HistoryEntry]:
    return list(
        session.scalars(
            select(HistoryEntry)
            .where(HistoryEntry.entity == "item", HistoryEntry.entity_id == item.id)
            .order_by(HistoryEntry.id)
        )
    )


def latest_verdicts(session: Session, items: list[ActionItem]) -> dict[int, Verdict]:
    """item id -> where its latest acceptance round stands, in one query for a whole list
    (items never delivered are absent)."""
    found: dict[int, Verdict] = {}
    ids = [item.id for item in items]
    for start in range(0, len(ids), 500):  # bounded IN lists
        rows = session.execute(
            select(AcceptanceRequest.item_id, AcceptanceRequest.verdict)
            .where(AcceptanceRequest.item_id.in_(ids[start : start + 500]))
            .order_by(AcceptanceRequest.item_id, AcceptanceRequest.round)
        )
        found.update({item_id: verdict for item_id, verdict in rows})
    return found
