"""A late reply does not overwrite what a reply written after it already changed.

Mail is applied in delivery order, but delivery order is not writing order: a reply can sit
in an outbox, a queue or a phone for hours. So before a mail changes an item's field, the
field's history is asked whether a mail written AFTER this one (by its Date header) already
changed it; if so the newer change stands, and the late one is recorded in the history as
`superseded` (what it asked for, and why it did not happen) and said so in its answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..store.models import ActionItem, HistoryEntry
from ..store.origin import Origin
from .history import record_changes

# Status and progress are one statement to a person ("#1 完成" is also 100 %): a newer
# change to either makes the late mail's word on both stale.
COUPLED = {"status": ("status", "progress"), "progress": ("status", "progress")}


def newer_changes(
    session: Session, item: ActionItem, fields: list[str], written_at: datetime | None
) -> dict[str, datetime]:
    """The fields among `fields` a mail written after `written_at` changed, and when the
    newest such mail was written. Nothing for a mail without a readable Date."""
    if written_at is None or not fields:
        return {}
    rows = session.execute(
        _NEWER, {"item_id": item.id, "fields": fields, "written_at": written_at}
    ).all()
    newer: dict[str, datetime] = {}
    for field, when in rows:
        for name in COUPLED.get(field, (field,)):
            if name in fields:
                newer[name] = max(when, newer.get(name, when))
    return newer


_NEWER = (
    select(HistoryEntry.field, func.max(HistoryEntry.written_at))
    .where(
        HistoryEntry.entity == "item",
        HistoryEntry.entity_id == bindparam("item_id"),
        HistoryEntry.action == "changed",
        HistoryEntry.field.in_(bindparam("fields", expanding=True)),
        HistoryEntry.written_at > bindparam("written_at"),
    )
    .group_by(HistoryEntry.field)
)


def record_superseded(
    session: Session,
    origin: Origin,
    now: datetime,
    item: ActionItem,
    asked: dict[str, object],
    newer: dict[str, datetime],
) -> None:
    """One history row per field the late mail asked for and did not get."""
    written = origin.written_at.isoformat() if origin.written_at else "?"
    newest = max(newer.values()).isoformat()
    record_changes(
        session,
        origin,
        now,
        entity="item",
        entity_id=item.id,
        collaboration_id=item.collaboration_id,
        action="superseded",
        changes=[(name, getattr(item, name), asked[name]) for name in asked if name in newer],
        note=f"mail written {written}; a mail written {newest} had changed it: that one stands",
    )
