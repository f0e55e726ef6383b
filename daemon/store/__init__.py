"""The ledger: SQL is the source of truth; Python stays thin on top of it.

The names below live in .database and are loaded when first asked for: the package's light
modules (enums, the plain-SQL reader of `items list`) are imported without SQLAlchemy."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .database import Database, SchemaOutOfDate, current_revision, head_revision, upgrade

__all__ = ["Database", "SchemaOutOfDate", "current_revision", "head_revision", "upgrade"]


def __getattr__(name: str):
    if name in __all__:
        from . import database

        return getattr(database, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
