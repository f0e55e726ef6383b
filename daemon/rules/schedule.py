"""Keeping `rule_schedule` in step with the ledger, at a cost that follows the changes.

Every change to an item writes a history row (ledger/history.py), and history ids only
grow. The rules remember the last history id they read (`rule_cursors`); each tick
reschedules just the items that changed since. The very first tick on a ledger schedules
every open item once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..store.models import (
    CLOSED_STATUSES,
    ActionItem,
    HistoryEntry,
    RuleCursor,
    RuleSchedule,
)
from .base import ItemRule

CURSOR = "history"
CHUNK = 500
# PostgreSQL hands out history ids at insert time, so a transaction that commits after a
# tick may hold ids below that tick's cursor. Each tick re-reads this many ids behind the
# cursor; SQLite has one writer at a time and needs none.
PG_LOOKBACK_IDS = 200

# Which history ids of that window this process saw at its last tick, per database: only the
# ids that appeared since (late commits) are rescheduled again. Rescheduling the whole window
# on every tick was idempotent but cost each tick the work of 200 changes (PostgreSQL ticks
# ran 3x the statements of SQLite's, `rules simulate` over a quarter took minutes). Another
# replica moving the cursor, or a restart, just means one full window re-read.
# The cursor's (position, updated_at) identifies the tick that wrote it, so a tick of ours
# that was rolled back is never taken for the one on record.
_seen_window: dict[str, tuple[tuple[int, datetime], frozenset[int]]] = {}


def load_items(session: Session, ids: Iterable[int]) -> dict[int, ActionItem]:
    ids = list(ids)
    found: dict[int, ActionItem] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        query = (
            select(ActionItem)
            .where(ActionItem.id.in_(chunk))
            .options(
                selectinload(ActionItem.collaborators),
                selectinload(ActionItem.owner),
                selectinload(ActionItem.collaboration),
            )
        )
        found.update({item.id: item for item in session.scalars(query)})
    return found


# Told about one rule that could not plan one item (a data problem, a calendar gap): the
# item is skipped for that rule, every other item and rule is still scheduled.
OnError = Callable[[ItemRule, ActionItem, Exception], None]


def _raise(rule: ItemRule, item: ActionItem, exc: Exception) -> None:
    raise exc


def sync(session: Session, rules: list[ItemRule], now: datetime, on_error: OnError = _raise) -> int:
    """Reschedule the items changed since the last tick; returns how many."""
    cursor = session.get(RuleCursor, CURSOR, with_for_update=True)
    top = session.scalar(select(func.max(HistoryEntry.id))) or 0
    if cursor is None:
        changed = list(
            session.scalars(select(ActionItem.id).where(ActionItem.status.notin_(CLOSED_STATUSES)))
        )
        session.add(RuleCursor(name=CURSOR, position=top, updated_at=now))
    else:
        lookback = PG_LOOKBACK_IDS if session.bind.dialect.name == "postgresql" else 0
        if top <= cursor.position and not lookback:
            return 0
        rows = session.execute(
            select(HistoryEntry.id, HistoryEntry.entity_id).where(
                HistoryEntry.id > cursor.position - lookback,
                HistoryEntry.id <= top,
                HistoryEntry.entity == "item",
            )
        ).all()
        bind = session.get_bind()
        key = getattr(bind, "engine", bind).url.render_as_string(hide_password=True)
        seen_at, seen = _seen_window.get(key, (None, frozenset()))
        if seen_at != (cursor.position, cursor.updated_at):
            seen = frozenset()  # another replica ticked, or first tick here: read it all
        changed = list({entity_id for history_id, entity_id in rows if history_id not in seen})
        if lookback:
            window = frozenset(i for i, _ in rows if i > top - lookback)
            _seen_window[key] = ((top, now), window)
        cursor.position, cursor.updated_at = top, now
    reschedule(session, rules, load_items(session, changed), now, on_error)
    return len(changed)


def reschedule(
    session: Session,
    rules: list[ItemRule],
    items: dict[int, ActionItem],
    now: datetime,
    on_error: OnError = _raise,
) -> None:
    if not items:
        return
    existing: dict[tuple[str, int], RuleSchedule] = {}
    ids = list(items)
    for start in range(0, len(ids), CHUNK):
        query = select(RuleSchedule).where(RuleSchedule.item_id.in_(ids[start : start + CHUNK]))
        existing.update({(row.rule_id, row.item_id): row for row in session.scalars(query)})
    for item in items.values():
        for rule in rules:
            row = existing.get((rule.rule_id, item.id))
            try:
                upcoming = next_occurrence(rule, item, row)
            except Exception as exc:
                on_error(rule, item, exc)
                # Due now: every tick tries again (and says so) until the cause is fixed.
                row = row or _new_row(session, rule, item)
                row.next_due_at, row.updated_at = now, now
                continue
            if row is None:
                if upcoming is None:
                    continue
                row = _new_row(session, rule, item)
            row.next_due_at = upcoming.due if upcoming else None
            if upcoming is None or (row.episode and upcoming.episode != row.episode):
                # the episode is over: the next one starts from level 1 with the current rule
                row.episode, row.level, row.rule_version, row.snapshot = "", 0, "", ""
            row.updated_at = now


def _new_row(session: Session, rule: ItemRule, item: ActionItem) -> RuleSchedule:
    row = RuleSchedule(
        rule_id=rule.rule_id,
        subject=f"item:{item.id}",
        item_id=item.id,
        episode="",
        level=0,
        rule_version="",
        snapshot="",
    )
    session.add(row)
    return row


def next_occurrence(rule: ItemRule, item: ActionItem, row: RuleSchedule | None):
    after = row.last_due_at if row is not None else None
    for occurrence in rule.occurrences(item, row):
        if after is None or occurrence.due > after:
            return occurrence
    return None
