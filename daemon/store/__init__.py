"""The ledger: SQL is the source of truth; Python stays thin on top of it."""

from .database import Database, SchemaOutOfDate, current_revision, head_revision, upgrade

__all__ = ["Database", "SchemaOutOfDate", "current_revision", "head_revision", "upgrade"]
