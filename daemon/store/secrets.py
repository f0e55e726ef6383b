"""Secrets kept in the ledger, created once by whichever process needs them first."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select

from .database import Database
from .models import LedgerSecret
from .upsert import dialect_insert


def ledger_secret(db: Database, name: str, size: int = 32) -> bytes:
    """The secret called `name`; two processes racing to create it end up with the same one."""
    with db.transaction() as session:
        insert = dialect_insert(db.dialect)
        session.execute(
            insert(LedgerSecret)
            .values(name=name, value=secrets.token_bytes(size), created_at=datetime.now(UTC))
            .on_conflict_do_nothing()
        )
        return session.scalar(select(LedgerSecret.value).where(LedgerSecret.name == name))
