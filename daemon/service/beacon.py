"""Small files outside the data directory and the ledger, for when those are the fault.

`collabd status` reads the ledger, and a replica says its faults there. A ledger on a full
(or read-only) disk cannot take that write: the replica's row kept saying "ready" until its
heartbeat went stale, 30 s later. So a replica also writes its fault, the moment it meets
it, to a file in the runtime directory (systemd's RuntimeDirectory=collabd, /run/collabd:
a tmpfs, not the disk that filled up), and removes it when the fault ends; `collabd status`
on the same machine reads it beside the ledger. The admin-mail record (service/alarm.py)
falls back to the same directory when the data directory cannot be written.

Files are named after the ledger they belong to (a digest of [store] url), so replicas of
other ledgers on the machine (tests, a staging copy) never mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def candidates() -> list[Path]:
    """Where runtime files may be, in order: systemd's runtime directory, /run/collabd,
    then a per-user folder in the temp directory (a daemon run by hand, not as root)."""
    found = []
    if os.environ.get("RUNTIME_DIRECTORY"):
        found.append(Path(os.environ["RUNTIME_DIRECTORY"].split(":")[0]))
    found.append(Path("/run/collabd"))
    found.append(Path(tempfile.gettempdir()) / f"collabd-{os.getuid()}")
    return list(dict.fromkeys(found))


def ledger_tag(store_url: str) -> str:
    return hashlib.sha256(store_url.encode()).hexdigest()[:12]


def writable_dir() -> Path | None:
    """The first runtime directory that exists or can be made, and can be written."""
    for place in candidates():
        try:
            place.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(place, os.W_OK | os.X_OK):
            return place
    return None


def write_json(name: str, data: dict) -> Path | None:
    """Write `name` in the runtime directory, by rename; readable by the operator running
    `collabd status` (no secret in it). None when no runtime directory can be written."""
    place = writable_dir()
    if place is None:
        return None
    target = place / name
    partial = place / f".{name}.partial"
    try:
        partial.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        partial.chmod(0o644)
        os.replace(partial, target)
    except OSError as exc:
        log.warning("cannot write %s: %s", target, exc)
        with contextlib.suppress(OSError):
            partial.unlink()
        return None
    return target


def read_json(name: str) -> dict | None:
    for place in candidates():
        try:
            return json.loads((place / name).read_text("utf-8"))
        except (OSError, ValueError):
            continue
    return None


def remove(name: str) -> None:
    for place in candidates():
        with contextlib.suppress(OSError):
            (place / name).unlink()


def fault_name(store_url: str, pid: int) -> str:
    return f"fault-{ledger_tag(store_url)}-{pid}.json"


def faults(store_url: str) -> list[dict]:
    """The faults replicas of this ledger on this machine have written, each with its
    `pid`, `replica`, `status` and `since`."""
    prefix = f"fault-{ledger_tag(store_url)}-"
    found: dict[str, dict] = {}
    for place in candidates():
        with contextlib.suppress(OSError):
            for path in place.glob(f"{prefix}*.json"):
                with contextlib.suppress(OSError, ValueError):
                    found.setdefault(path.name, json.loads(path.read_text("utf-8")))
    return list(found.values())


def sweep(store_url: str) -> None:
    """Remove the fault files a killed replica of this ledger left (its pid is gone)."""
    prefix = f"fault-{ledger_tag(store_url)}-"
    for place in candidates():
        with contextlib.suppress(OSError):
            for path in place.glob(f"{prefix}*.json"):
                pid = path.stem.removeprefix(prefix)
                if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                    with contextlib.suppress(OSError):
                        path.unlink()
