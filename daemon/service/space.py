"""Free space on the filesystems collabd writes to: the data directory, and the SQLite
ledger's folder when the ledger is a file. Read by `collabd status` (a warning below
`[service] min_free_mb`) and by the running daemon (a disk-full episode ends only once the
space is back above it, so one large attachment cannot make the fault flap)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from ..config import Settings

MIB = 1024 * 1024


def places(settings: Settings) -> dict[str, Path]:
    """What collabd writes to, by the name an operator knows it by."""
    found = {"data directory": settings.data_dir}
    url = settings.store_url
    database = make_url(url).database if url.startswith("sqlite") else None
    if database:
        found["ledger"] = Path(database).parent
    return found


def free_space(path: Path) -> tuple[int, int, int] | None:
    """(device, bytes free to an unprivileged writer, size) of the filesystem holding
    `path`, or of its nearest existing parent; None if it cannot be asked."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        stat = os.statvfs(probe)
        device = probe.stat().st_dev
    except OSError:
        return None
    return device, stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize


def survey(settings: Settings) -> list[tuple[str, bool]]:
    """Each filesystem collabd writes to, said once ("data directory /var/…: 0 MiB free of
    3 MiB"), and whether it is below `[service] min_free_mb`."""
    threshold = settings.service.min_free_mb * MIB
    seen: set[int] = set()
    found = []
    for what, path in places(settings).items():
        space = free_space(path)
        if space is None or space[0] in seen:
            continue
        seen.add(space[0])
        _device, free, size = space
        found.append(
            (f"{what} {path}: {free // MIB} MiB free of {size // MIB} MiB", free < threshold)
        )
    return found


def low_space(settings: Settings) -> list[str]:
    """The filesystems below `[service] min_free_mb`."""
    return [text for text, low in survey(settings) if low]
