"""Free space on the filesystems collabd writes to: the data directory, and the SQLite
ledger's folder when the ledger is a file. Read by `collabd status` (a warning below
`[service] min_free_mb`) and by the running daemon (a disk-full episode ends only once the
space is back above it, so one large attachment cannot make the fault flap). A filesystem
smaller than the threshold could never meet it: there a quarter of it free ends the
episode, and `collabd status` says, steadily, that the threshold cannot be met."""

from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Room:
    """One filesystem collabd writes to, as measured now."""

    what: str  # "data directory", "ledger"
    path: Path
    free: int  # bytes free to an unprivileged writer
    size: int
    threshold: int  # bytes, [service] min_free_mb

    @property
    def too_small(self) -> bool:
        """The whole filesystem is smaller than the threshold: it can never be met."""
        return self.size < self.threshold

    @property
    def needed(self) -> int:
        """Free bytes that end a disk-full episode: the threshold, or a quarter of a disk
        too small ever to have that much free (else its episodes could never end)."""
        return self.size // 4 if self.too_small else self.threshold

    @property
    def low(self) -> bool:
        return self.free < self.threshold

    @property
    def recovered(self) -> bool:
        return self.free >= self.needed

    def __str__(self) -> str:
        return f"{self.what} {self.path}: {self.free // MIB} MiB free of {self.size // MIB} MiB"


def rooms(settings: Settings) -> list[Room]:
    """Each filesystem collabd writes to, once."""
    threshold = settings.service.min_free_mb * MIB
    seen: set[int] = set()
    found = []
    for what, path in places(settings).items():
        space = free_space(path)
        if space is None or space[0] in seen:
            continue
        seen.add(space[0])
        _device, free, size = space
        found.append(Room(what, path, free, size, threshold))
    return found


def survey(settings: Settings) -> list[tuple[str, bool]]:
    """Each filesystem collabd writes to, said once ("data directory /var/…: 0 MiB free of
    3 MiB"), and whether it is below `[service] min_free_mb`."""
    return [(str(room), room.low) for room in rooms(settings)]


def low_space(settings: Settings) -> list[str]:
    """The filesystems below `[service] min_free_mb`."""
    return [str(room) for room in rooms(settings) if room.low]


def still_short(settings: Settings) -> list[Room]:
    """The filesystems whose free space has not yet come back to what ends a disk-full
    episode (Room.needed)."""
    return [room for room in rooms(settings) if not room.recovered]
