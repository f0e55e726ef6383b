"""Whose fault is a failure: the mail's, or the machine's?

A mail that cannot be read, that a handler rejects, or that kills the process while being
applied is at fault: it counts toward quarantine. A full disk, a read-only or locked
ledger, a database that cannot be reached, a permission the service lacks, a mail server
that went away are the machine's faults: the same mail applies fine once they end, so
they never count against it. The mail stays where it is and is tried again.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from sqlalchemy import exc as sql

from ..mail.transport import SignInFailed, TransportError
from ..textwidth import clip_words

# What the operating system says when the machine, not the data, is the problem.
_MACHINE_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only filesystem",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "input/output error",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files in the system",
    errno.ENOMEM: "out of memory",
}

# PostgreSQL SQLSTATE classes and codes that describe the server, not the statement:
# 08 connection, 53 insufficient resources (53100 disk full), 57 operator intervention
# (shutdown, terminated session), 58 system error; 25006 read-only transaction;
# 40001/40P01 serialization failure and deadlock (try again).
_PG_CLASSES = ("08", "53", "57", "58")
_PG_CODES = {"25006", "40001", "40P01"}

# SQLAlchemy errors that mean the database (or its file) is unusable right now.
_DATABASE_DOWN = (
    sql.OperationalError,
    sql.InterfaceError,
    sql.DisconnectionError,
    sql.TimeoutError,
)


class EnvironmentalFault(Exception):
    """The machine failed while a mail was being applied: leave the mail, stop the pass,
    try again after a pause. `what` says it in an operator's words."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def environmental(error: BaseException) -> str | None:
    """What is wrong with the machine, if `error` (or an error it was raised from) says
    so; None when the failure belongs to the mail."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _describe(current)
        if found:
            return found
        current = current.__cause__ or current.__context__
    return None


def _describe(error: BaseException) -> str | None:
    if isinstance(error, EnvironmentalFault):
        return error.what
    if isinstance(error, SignInFailed):  # the server answered: the account is the problem
        return f"mail server sign-in refused: {_first_line(error)}"
    if isinstance(error, TransportError):
        return f"mail server unreachable: {_first_line(error)}"
    if isinstance(error, sql.DBAPIError):
        return _database(error)
    if isinstance(error, _DATABASE_DOWN):
        return f"database unreachable: {_first_line(error)}"
    if isinstance(error, OSError) and error.errno in _MACHINE_ERRNOS:
        where = f" at {error.filename}" if error.filename else ""
        name = errno.errorcode.get(error.errno, str(error.errno))
        return f"{_MACHINE_ERRNOS[error.errno]} ({name}){where}"
    return None


def ledger_file_fault(path: Path) -> str | None:
    """Why a SQLite ledger at `path` cannot be written, when SQLite only says "unable to
    open database file" (its -wal and -shm files cannot be made): a filesystem mounted
    read-only, or a folder or file collabd may not write. None when neither is the case."""
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"ledger read-only: the filesystem is mounted read-only (EROFS) at {folder}"
    except OSError:
        return None
    for place in (folder, path):
        if place.exists() and not os.access(place, os.W_OK):
            return f"ledger read-only: permission denied (EACCES) at {place}"
    return None


def _database(error: sql.DBAPIError) -> str | None:
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None) or ""
    down = error.connection_invalidated or isinstance(error, _DATABASE_DOWN)
    if not down and not (code.startswith(_PG_CLASSES) or code in _PG_CODES):
        return None  # a constraint, a type, a trigger's refusal: about this mail's data
    message = _first_line(error.orig or error)
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered or code == "25006":
        return f"ledger read-only: {message}"
    if "locked" in lowered:
        return f"ledger locked: {message}"
    if "full" in lowered or code == "53100":
        return f"ledger disk full: {message}"
    return f"database unreachable: {message}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return clip_words(text[0], 300) if text else type(error).__name__
