"""Who did it and why: the Origin of a change, and writing it to the history table."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy.orm import Session

from ..store.models import (
    ActionItem,
    Collaboration,
    HistoryEntry,
    Meeting,
)
from ..store.origin import Origin

__all__ = ["Origin", "record", "record_changes", "record_changes_on", "record_on"]


def _text(value: object) -> str | None:
    """History keeps values as text; enums by their value, dates as ISO 8601."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def record(
    session: Session,
    origin: Origin,
    at: datetime,
    *,
    entity: str,
    entity_id: int,
    action: str,
    collaboration_id: int | None = None,
    field: str | None = None,
    old: object = None,
    new: object = None,
    note: str = "",
) -> None:
    """Append one history row. Written with a plain INSERT on the session's connection, not
    an ORM object: history is never read back as objects in the same unit of work, and this
    is on every mail's hot path. (session.execute would also flush the caller's pending
    changes first, once for every field a change records.)"""
    record_changes(
        session,
        origin,
        at,
        entity=entity,
        entity_id=entity_id,
        action=action,
        collaboration_id=collaboration_id,
        changes=[(field, old, new)],
        note=note,
    )


def record_on(
    session: Session,
    origin: Origin,
    at: datetime,
    subject: ActionItem | Meeting | Collaboration,
    *,
    action: str,
    field: str | None = None,
    old: object = None,
    new: object = None,
    note: str = "",
) -> None:
    """record() for an action item, a meeting or a collaboration: its entity, id and
    collaboration filled in."""
    record_changes_on(session, origin, at, subject, [(field, old, new)], action=action, note=note)


_ENTITIES = {ActionItem: "item", Meeting: "meeting", Collaboration: "collaboration"}


def record_changes_on(
    session: Session,
    origin: Origin,
    at: datetime,
    subject: ActionItem | Meeting | Collaboration,
    changes: list[tuple[str | None, object, object]],
    *,
    action: str = "changed",
    note: str = "",
) -> None:
    """record_changes() for an item, a meeting or a collaboration: one row per field."""
    own = isinstance(subject, Collaboration)
    record_changes(
        session,
        origin,
        at,
        entity=_ENTITIES[type(subject)],
        entity_id=subject.id,
        collaboration_id=subject.id if own else subject.collaboration_id,
        action=action,
        changes=changes,
        note=note,
    )


def record_changes(
    session: Session,
    origin: Origin,
    at: datetime,
    *,
    entity: str,
    entity_id: int,
    action: str,
    changes: list[tuple[str | None, object, object]],
    collaboration_id: int | None = None,
    note: str = "",
) -> None:
    """One history row per (field, old, new), in one executemany."""
    actor_id = origin.person.id if origin.person else None
    rows = [
        dict(
            at=at,
            collaboration_id=collaboration_id,
            entity=entity,
            entity_id=entity_id,
            action=action,
            field=field,
            old_value=_text(old),
            new_value=_text(new),
            actor_id=actor_id,
            actor=origin.actor,
            source_kind=origin.kind,
            source=origin.source,
            note=note,
            written_at=origin.written_at,
        )
        for field, old, new in changes
    ]
    if rows:
        session.connection().execute(_INSERT, rows if len(rows) > 1 else rows[0])


_INSERT = HistoryEntry.__table__.insert()
