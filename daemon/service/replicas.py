"""Each replica's row in `service_replicas`: alive (heartbeat), what it watches, when it last
synced the mailbox, ticked and sent. `collabd status` reads these rows."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime

from sqlalchemy import func, select

from .. import __version__
from ..store import Database
from ..store.models import ServiceReplica


def new_replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def register(db: Database, replica_id: str, now: datetime, rules_problem: str = "") -> None:
    """Announce this replica (again, after a config reload)."""
    with db.transaction() as session:
        session.merge(
            ServiceReplica(
                id=replica_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                started_at=now,
                heartbeat_at=now,
                status="starting",
                rules_problem=rules_problem,
            )
        )


def beat(db: Database, replica_id: str, now: datetime, **values: object) -> None:
    """Refresh the heartbeat and record what changed (watching, last_sync_at, status …)."""
    with db.transaction() as session:
        row = session.get(ServiceReplica, replica_id)
        if row is None:  # e.g. deleted by hand: come back
            row = ServiceReplica(
                id=replica_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                started_at=now,
                status="",
            )
            session.add(row)
        row.heartbeat_at = now
        for name, value in values.items():
            setattr(row, name, value)


def last_sync(db: Database, mailbox: str | None = None) -> datetime | None:
    """When a pass over the mailbox last started, by any replica."""
    with db.transaction() as session:
        query = select(func.max(ServiceReplica.last_sync_at))
        if mailbox is not None:
            query = query.where(ServiceReplica.watching == mailbox)
        return session.scalar(query)
