"""Rules tick: one tick with 1,000 due items in large ledgers.

One tick (`run_tick`) with 1,000 due items in ledgers of 10k, 100k (and, with
   --million, 1M) open items, on SQLite and PostgreSQL. The ledger is bulk-loaded with Core
   inserts: items, and one schedule row each (the state `collabd tick` keeps), 1,000 of them
   due now (deadline tomorrow: the 1-working-day reminder), the rest due later. The 1,000 due
   items belong to 100 owners, so the tick writes 100 reminder mails of 10 items each. The
   tick runs --rounds times rolled back, then once committed; the baseline beside it is the
   raw SQL that finds the due rows (what no tick can do without).

Send throughput is bench/sender.py.

    .venv/bin/python bench/tick.py [--backend sqlite|postgresql|both] [--million] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bench.conditions import conditions, spread, table  # noqa: E402
from daemon.app import App  # noqa: E402
from daemon.clock import FixedClock  # noqa: E402
from daemon.config import validate  # noqa: E402
from daemon.rules.engine import evaluate  # noqa: E402
from daemon.rules.tick import run_tick  # noqa: E402
from daemon.store.models import (  # noqa: E402
    ActionItem,
    Collaboration,
    Department,
    OutboxMessage,
    Person,
    RuleCursor,
    RuleSchedule,
)

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 09:00 in Shanghai
DUE, OWNERS, COLLABS, CHUNK = 1000, 100, 100, 20_000
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _app(url: str, data: Path, smtp_port: int | None = None) -> App:
    mail: dict = {"address": "collabd@collabd.test"}
    if smtp_port:
        mail |= {
            "backend": "imap",
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"},
            "imap": {"host": "127.0.0.1", "port": 1, "security": "none"},
        }
    settings = validate(
        {"daemon": {"data_dir": str(data)}, "store": {"url": url}, "mail": mail}, "bench"
    )
    return App(settings, clock=FixedClock(NOW))


def _database(backend: str, tmp: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'{name}.sqlite3'}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop(backend: str, name: str) -> None:
    if backend == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(app: App, open_items: int, domain: str = "collabd.test") -> None:
    """Bulk-load people, collaborations, items and their schedule rows with Core inserts."""
    with app.db.transaction() as session:
        session.execute(insert(Department), [{"id": 1, "name": "研发中心"}])
        session.execute(
            insert(Person),
            [
                {
                    "id": n + 1,
                    "name": f"负责人{n}",
                    "email": f"owner{n}@{domain}",
                    "department_id": 1,
                    "locale": "zh-CN",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(OWNERS)
            ],
        )
        session.execute(
            insert(Collaboration),
            [
                {
                    "id": c + 1,
                    "code": f"c{c}",
                    "theme": f"协作{c}",
                    "initiator_id": 1,
                    "coordinator_id": 2,
                    "status": "active",
                    "item_seq": 0,
                    "goal": "",
                    "background": "",
                    "created_at": NOW,
                }
                for c in range(COLLABS)
            ],
        )
        session.add(RuleCursor(name="history", position=0, updated_at=NOW))
    tomorrow, later = date(2026, 11, 25), date(2026, 12, 31)
    due_at, later_at = NOW, datetime(2026, 12, 30, 1, 0, tzinfo=UTC)
    per_collab = open_items // COLLABS
    for start in range(0, open_items, CHUNK):
        ids = range(start + 1, min(start + CHUNK, open_items) + 1)
        items, schedule = [], []
        for item_id in ids:
            due = item_id <= DUE  # the first 1,000 (all in collaboration c0) are due now
            collab = 0 if due else (item_id - 1) // per_collab
            items.append(
                {
                    "id": item_id,
                    "collaboration_id": collab + 1,
                    "number": item_id,
                    "description": f"行动项 {item_id}",
                    "owner_id": item_id % OWNERS + 1,
                    "done_criteria": "",
                    "deadline": tomorrow if due else later,
                    "priority": "low",
                    "status": "in_progress",
                    "status_since": NOW,
                    "progress": 10,
                    "support_needed": "",
                    "note": "",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            schedule.append(
                {
                    "rule_id": "reminder.before_deadline",
                    "subject": f"item:{item_id}",
                    "item_id": item_id,
                    "next_due_at": due_at if due else later_at,
                    "episode": "",
                    "level": 0,
                    "rule_version": "",
                    "snapshot": "",
                    "updated_at": NOW,
                }
            )
        with app.db.transaction() as session:
            session.execute(insert(ActionItem), items)
            session.execute(insert(RuleSchedule), schedule)
    if app.db.dialect == "postgresql":
        with app.db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


def raw_due(app: App) -> float:
    """The baseline: the one SELECT of the due schedule rows with their items, in SQL."""
    started = time.perf_counter()
    with app.db.engine.connect() as connection:
        rows = connection.execute(
            select(RuleSchedule.rule_id, ActionItem.id, ActionItem.owner_id)
            .join(ActionItem, ActionItem.id == RuleSchedule.item_id)
            .where(RuleSchedule.next_due_at <= NOW)
        ).all()
    assert len(rows) == DUE, len(rows)
    return time.perf_counter() - started


def bench_tick(backend: str, sizes: list[int], tmp: Path, rounds: int) -> list[list[str]]:
    results = []
    for size in sizes:
        name = f"collabd_bench_tick_{uuid.uuid4().hex[:8]}"
        url = _database(backend, tmp, name)
        app = _app(url, tmp / name)
        try:
            load(app, size)
            run_tick(app, NOW - timedelta(days=1))  # digest row etc.: not part of the figure
            # The same tick, rolled back, in rounds alternating with the raw query; then the
            # real tick, committed, once (it must write the mails the rounds rolled back).
            ticks, raws = [], []
            for round_ in range(rounds):
                if round_ % 2:
                    raws.append(raw_due(app))
                session = app.db.sessions()
                session.begin()
                started = time.perf_counter()
                evaluate(session, app, NOW)
                session.flush()
                ticks.append(time.perf_counter() - started)
                session.rollback()
                session.close()
                if round_ % 2 == 0:
                    raws.append(raw_due(app))
            report = run_tick(app, NOW)
            assert not report.errors, report.errors
            with app.db.transaction() as session:
                mails = len(list(session.scalars(select(OutboxMessage.id))))
            print(f"{backend} {size:,}: {mails} mails for {DUE} due items", file=sys.stderr)
            results.append(
                [f"{backend}, {size:,} open items", spread(ticks), spread(raws), str(mails)]
            )
        finally:
            app.close()
            _drop(backend, name)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--million", action="store_true", help="also 1M open items (minutes)")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = []
    with tempfile.TemporaryDirectory(prefix="collabd-bench-tick-") as tmp:
        for backend in backends:
            rows += bench_tick(backend, sizes, Path(tmp), args.rounds)
    print(f"\none tick, {DUE} due items, {args.rounds} rounds alternating with the raw query")
    print(conditions())
    header = ["ledger", "tick s (min / median / max)", "raw due query s", "mails written"]
    print(table(header, rows))


if __name__ == "__main__":
    main()
