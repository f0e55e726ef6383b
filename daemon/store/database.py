"""Opening the ledger: engines, sessions, and keeping the schema at the head revision.

SQLite (the embedded default) gets WAL, a busy timeout, foreign keys, and `BEGIN IMMEDIATE`
for every transaction: a writer takes the write lock up front instead of failing halfway with
"database is locked" when a reader upgrades. PostgreSQL is used as is.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from ..errors import CollabdError
from .private import private_file
from .revision import numbered_head

if TYPE_CHECKING:  # alembic is imported by the commands that migrate, not by every start;
    # the ORM by the first unit of work (`items list` reads through SQL alone)
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000
# Any 64-bit number will do; it only has to be the same for every collabd process.
MIGRATION_LOCK_KEY = 0x636F6C6C6162  # "collab"


class SchemaOutOfDate(CollabdError):
    exit_code = 75  # EX_TEMPFAIL: fixable by running `collabd db upgrade`


def normalize_url(url: str) -> str:
    """Accept the URLs people write; use the psycopg 3 driver collabd ships with."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


WAL_KEEP_BYTES = 4 * 1024 * 1024


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event decide how transactions start (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    # A checkpoint truncates the -wal file back to this size: else it keeps the size of the
    # largest write ever made (a deliverable's acceptance request: review F1 found a 43 MB
    # WAL beside a 44 MB ledger on a full disk).
    cursor.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            # A new directory is private; an existing one (a home directory, say) is the
            # admin's business. The ledger file itself is private either way.
            Path(database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            private_file(Path(database))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(files("daemon.store") / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration, as alembic reads the scripts (it loads every one of them)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(files("daemon.store") / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The ledger's revision, from alembic's own table (none in an empty database)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Several replicas may start at once; only one of them migrates at a time."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as lock_connection:
        lock_connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            lock_connection.execute(
                text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY}
            )
            lock_connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision`; returns (before, after)."""
    with _migration_lock(engine):
        before = current_revision(engine)
        from alembic import command

        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            raw = connection.connection.dbapi_connection
            if sqlite:
                # SQLite alters a table by copying it and dropping the old one (alembic's
                # batch mode); with foreign keys enforced that DROP fails as soon as any
                # row points at the table. SQLite's own recipe: switch them off outside a
                # transaction (on the driver's connection: every SQLAlchemy statement here
                # runs inside BEGIN IMMEDIATE), migrate, check every reference, commit.
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    command.upgrade(_alembic_config(connection), revision)
                    if sqlite:
                        _check_references(connection)
            finally:
                if sqlite:
                    raw.execute("PRAGMA foreign_keys=ON")
        after = current_revision(engine)
    if before != after:
        log.info("ledger schema upgraded from %s to %s", before or "empty", after)
    return before, after


def _check_references(connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise RuntimeError(
            f"schema upgrade left {len(broken)} broken reference(s), e.g. {table} row {rowid} "
            f"→ {parent}; nothing was changed"
        )


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


class Database:
    """The ledger: an engine plus a session factory."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ensure_schema(self) -> None:
        """A fresh database is created at the head revision; an old one must be upgraded
        on purpose (`collabd db upgrade`), never behind the admin's back."""
        current = current_revision(self.engine)
        if current is None and is_empty(self.engine):
            upgrade(self.engine)
            return
        head = numbered_head()
        if current != head:
            raise SchemaOutOfDate(
                f"the ledger at {make_url(self.url).render_as_string(hide_password=True)} is at "
                f"schema revision {current or 'none'}, this collabd needs {head}: "
                "run `collabd db upgrade`"
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
