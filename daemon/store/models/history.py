"""The append-only history: every change to the ledger, who made it, when, and why.

Append-only is enforced by the database itself (triggers created in the first migration), so
no code path — not even a careless one — can rewrite what happened.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..enums import SourceKind
from ..types import UTCDateTime, str_enum
from .base import Base
from .people import Person


class HistoryEntry(Base):
    __tablename__ = "history"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    collaboration_id: Mapped[int | None] = mapped_column(ForeignKey("collaborations.id"))
    # What changed: an entity ("item", "collaboration", "person", "meeting", "minutes", …),
    # its id, and for field changes the field with old and new values as text.
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(String(32))  # created / changed / imported / …
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    # Who: a known person when we know them, and always a readable actor string.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor: Mapped[str] = mapped_column(String(320))
    # Why: the CLI command line, the Message-ID of the mail, or the rule id and level.
    source_kind: Mapped[SourceKind] = mapped_column(str_enum(SourceKind, "source_kind"))
    source: Mapped[str] = mapped_column(String(998))
    note: Mapped[str] = mapped_column(Text, default="")
    # For a change made by mail: when the mail was written (its Date header), so a reply
    # that arrives late cannot overwrite a change made by one written after it.
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    actor_person: Mapped[Person | None] = relationship()

    __table_args__ = (
        Index("ix_history_entity", "entity", "entity_id", "id"),
        Index("ix_history_collaboration", "collaboration_id", "id"),
        Index("ix_history_source", "source_kind", "source"),
    )
