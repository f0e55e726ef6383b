"""`INSERT … ON CONFLICT`, in the ledger's own dialect.

The dialect module is imported when first asked for: importing
`sqlalchemy.dialects.postgresql` loads every PostgreSQL driver SQLAlchemy knows (asyncpg,
pg8000 …), a cost a command on the SQLite ledger should not pay at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any


def dialect_insert(dialect: str) -> Any:
    """`insert` of `sqlalchemy.dialects.<dialect>` (postgresql or sqlite), which has
    `on_conflict_do_nothing` / `on_conflict_do_update`."""
    name = "postgresql" if dialect == "postgresql" else "sqlite"
    return importlib.import_module(f"sqlalchemy.dialects.{name}").insert
