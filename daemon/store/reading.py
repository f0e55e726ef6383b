"""Reading the ledger through plain SQL, for a command that only looks (`items list`).

A SQLite ledger file at the schema this collabd needs is read with the standard library's
sqlite3 alone: SQLAlchemy's import is most of such a command's start (about 0.3 s of CPU
on a loaded 2-core machine, bench/lean.py). It is opened read-only, in one deferred
transaction: a snapshot that neither waits for nor blocks a writer (WAL). Anything else (a
PostgreSQL ledger, a URL with options, a missing file, another schema revision) goes
through the App's SQLAlchemy engine, which creates, refuses or explains as every other
command does.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .revision import numbered_head

if TYPE_CHECKING:
    from .database import Database

SQLITE_TIMEOUT_S = 15.0  # as the engine's busy timeout (store/database.py)
# sqlite:///relative.db or sqlite:////abs/path.db, without options or escapes.
_SQLITE_FILE = re.compile(r"sqlite(?:\+pysqlite)?:///([^?%]+)")


class Reader:
    """Runs a SELECT with named parameters (`:name`); a list value is an IN list."""

    def __init__(self, run: Callable[[str, dict], Sequence[Sequence[Any]]]) -> None:
        self._run = run

    def rows(self, query: str, params: dict | None = None) -> Sequence[Sequence[Any]]:
        query, flat = _expand(query, params or {})
        return self._run(query, flat)


@contextlib.contextmanager
def reading(url: str, ledger: Callable[[], Database]) -> Iterator[Reader]:
    """One read-only transaction on the ledger at `url`; `ledger` opens it the full way."""
    connection = _sqlite_at_head(url)
    if connection is not None:
        try:
            connection.execute("BEGIN")
            yield Reader(
                lambda query, params: connection.execute(query, _sqlite_values(params)).fetchall()
            )
        finally:
            connection.close()
        return
    from sqlalchemy import text

    with ledger().engine.begin() as sql:
        yield Reader(lambda query, params: sql.execute(text(query), params).all())


def _sqlite_at_head(url: str) -> sqlite3.Connection | None:
    match = _SQLITE_FILE.fullmatch(url)
    if match is None or not Path(match.group(1)).is_file():
        return None
    location = f"file:{quote(str(Path(match.group(1)).absolute()))}?mode=ro"
    connection = sqlite3.connect(location, uri=True, timeout=SQLITE_TIMEOUT_S)
    connection.isolation_level = None  # transactions as written: one BEGIN for all reads
    try:
        found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:  # not a collabd ledger yet: the full way creates or refuses it
        found = None
    if found is None or found[0] != numbered_head():
        connection.close()
        return None
    return connection


def _expand(query: str, params: dict) -> tuple[str, dict]:
    """`IN :ids` with a list becomes `IN (:ids_0, :ids_1, …)`: the same text for sqlite3
    and SQLAlchemy, neither of which needs to know. An empty list is `IN (NULL)`, which
    matches nothing."""
    flat: dict = {}
    for name, value in params.items():
        if not isinstance(value, list | tuple):
            flat[name] = value
            continue
        names = [f"{name}_{n}" for n in range(max(len(value), 1))]
        flat.update(dict.fromkeys(names))
        flat.update(zip(names, value, strict=False))
        query = re.sub(rf":{name}\b", "(" + ", ".join(f":{n}" for n in names) + ")", query)
    return query, flat


def _sqlite_values(params: dict) -> dict:
    """Days as the ISO text SQLAlchemy stores them in SQLite (sqlite3's own date adapter
    is deprecated)."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}


def day(value: date | str | None) -> date | None:
    """A DATE column as a date: PostgreSQL gives one, SQLite its ISO text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def instant(value: datetime | str | None) -> datetime | None:
    """A timestamp column as an aware UTC instant (store/types.UTCDateTime's rule)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
