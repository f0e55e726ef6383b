"""Exactly one replica watches each mailbox.

On PostgreSQL: a session advisory lock, held on a connection of its own for as long as the
replica watches. When the holder dies (kill -9, lost network, pg_terminate_backend) its
session ends, PostgreSQL drops the lock, and the next replica's `try_acquire` wins it.
The holder checks its session every loop: a holder whose session is gone stops watching
before anyone else can have started (they wait for their own next loop).

On SQLite (one machine by definition): an flock on a file beside the database, dropped by
the kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from ..store import Database

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, from the mailbox's name."""
    digest = hashlib.sha256(f"collabd-watch:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class MailboxLock:
    def __init__(self, db: Database, mailbox: str) -> None:
        self.db, self.mailbox = db, mailbox
        self.key = lock_key(mailbox)
        self._connection: Connection | None = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.db.dialect == "postgresql":
            return self._try_advisory()
        return self._try_flock()

    def still_held(self) -> bool:
        """Is our claim still good? False (and released) if our PostgreSQL session is gone."""
        if self._connection is None:
            return self._file is not None
        try:
            held = self._connection.execute(
                # This session exists only to hold this one lock.
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND granted"
                )
            ).scalar_one()
            self._connection.commit()
        except Exception as exc:
            log.warning("mailbox lock session lost: %s", exc, extra={"mailbox": self.mailbox})
            self.release()
            return False
        if not held:
            self.release()
        return bool(held)

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                connection.commit()
            with contextlib.suppress(Exception):
                connection.close()
        lock_file, self._file = self._file, None
        if lock_file is not None:
            lock_file.close()  # closing drops the flock

    def _try_advisory(self) -> bool:
        connection = self.db.engine.connect()
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}
            ).scalar_one()
            connection.commit()
        except Exception:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def _try_flock(self) -> bool:
        database = make_url(self.db.url).database or "collabd"
        path = Path(f"{database}.watch-{self.key & 0xFFFFFFFF:08x}.lock")
        lock_file = open(path, "a")  # noqa: SIM115 - held while watching
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        self._file = lock_file
        return True
