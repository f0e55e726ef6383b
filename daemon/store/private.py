"""The data directory and the ledger file are private to collabd, whatever the umask.

The SQLite ledger holds the reply-token key (and OAuth tokens): readable by another local
user, it lets them sign replies as anyone. systemd's unit sets UMask=0077 and
StateDirectoryMode=0700; outside systemd (a shell, cron, a container) nothing did, and the
ledger came out 0644. SQLite gives its -wal and -shm files the database file's mode.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> None:
    """Create `path` (and parents) and make it 0700 if this user owns it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    _restrict(path, DIRECTORY_MODE)


def private_file(path: Path) -> None:
    """Create `path` empty if missing, 0600 from its first byte; tighten an existing one."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    _restrict(path, FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    try:
        info = path.stat()
        if info.st_uid == os.getuid() and info.st_mode & 0o777 & ~mode:
            path.chmod(info.st_mode & 0o777 & mode)
    except OSError:  # a read-only mount or someone else's file: left as the admin set it
        pass
