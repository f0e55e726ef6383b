"""Rules tick and send throughput.

1. One tick (`run_tick`) with 1,000 due items in ledgers of 10k, 100k (and, with
   --million, 1M) open items, on SQLite and PostgreSQL. The ledger is bulk-loaded with Core
   inserts: items, and one schedule row each (the state `collabd tick` keeps), 1,000 of them
   due now (deadline tomorrow: the 1-working-day reminder), the rest due later. The 1,000 due
   items belong to 100 owners, so the tick writes 100 reminder mails of 10 items each.
2. Send throughput: the outbox sender (`send_due`, one SMTP connection per batch) as the
   daemon runs it, with the journal copy in each SMTP transaction (daemon/service/journal.py),
   against raw smtplib sending the same bytes to the same recipients (the journal address
   too) on one connection, to the same loopback Postfix (the test mail stack, slot
   $COLLABD_MAILSTACK_SLOT), same run.

    .venv/bin/python bench/tick.py [--backend sqlite|postgresql|both] [--million] [--mails 500]
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from daemon.app import App  # noqa: E402
from daemon.clock import FixedClock  # noqa: E402
from daemon.config import validate  # noqa: E402
from daemon.mail.send import send_due  # noqa: E402
from daemon.rules.engine import evaluate  # noqa: E402
from daemon.rules.tick import run_tick  # noqa: E402
from daemon.service.journal import journal_address  # noqa: E402
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
DUE, OWNERS, COLLABS, CHUNK, REPEATS = 1000, 100, 100, 20_000, 5
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


def bench_tick(backend: str, sizes: list[int], tmp: Path) -> list[tuple[str, int, float, int]]:
    results = []
    for size in sizes:
        name = f"collabd_bench_tick_{uuid.uuid4().hex[:8]}"
        url = _database(backend, tmp, name)
        app = _app(url, tmp / name)
        try:
            started = time.perf_counter()
            load(app, size)
            loaded = time.perf_counter() - started
            run_tick(app, NOW - timedelta(days=1))  # digest row etc.: not part of the figure
            # The same tick, rolled back, several times: this machine is shared, so the best
            # of the runs is the figure; then the real tick, committed, once.
            trials = []
            for _ in range(REPEATS):
                session = app.db.sessions()
                session.begin()
                started = time.perf_counter()
                evaluate(session, app, NOW)
                session.flush()
                trials.append(time.perf_counter() - started)
                session.rollback()
                session.close()
            started = time.perf_counter()
            report = run_tick(app, NOW)
            committed = time.perf_counter() - started
            elapsed = min(trials)
            assert not report.errors, report.errors
            with app.db.transaction() as session:
                mails = len(list(session.scalars(select(OutboxMessage.id))))
            print(
                f"{backend:<10} {size:>9,} open items: tick best {elapsed:.3f} s, median "
                f"{sorted(trials)[len(trials) // 2]:.3f} s, committed run {committed:.3f} s; "
                f"{mails} mails for {DUE} due items (load {loaded:.0f} s)",
                flush=True,
            )
            results.append((backend, size, elapsed, mails))
        finally:
            app.close()
            _drop(backend, name)
    return results


def bench_send(mails: int, tmp: Path, rounds: int = 4) -> tuple[float, float]:
    """Rounds of raw smtplib and collabd, each on the same mails; the means are printed.
    On a 2-core machine where Postfix, Dovecot and the sender share the CPUs, whichever
    goes first after the queue drains runs about 10 % slower: the order alternates, and an
    even number of rounds gives each side the first slot equally often."""
    from tests.mailstack import MailStack

    stack = MailStack().start()
    try:
        app = _app(f"sqlite:///{tmp / 'send.sqlite3'}", tmp / "send", stack.smtp_port)
        load(app, DUE)
        run_tick(app, NOW - timedelta(days=1))
        run_tick(app, NOW)  # 100 real reminder mails: the bench sends copies of one
        with app.db.transaction() as session:
            base = session.scalars(select(OutboxMessage)).first()
            session.expunge(base)
            session.execute(update(OutboxMessage).values(status="cancelled"))
        journal = journal_address(app.settings.mail.address)

        def queue(round_: int) -> list[tuple[str, str, bytes]]:
            with app.db.transaction() as session:
                for n in range(mails):
                    session.add(
                        OutboxMessage(
                            dedupe_key=f"bench:{round_}:{n}",
                            message_id=f"<bench{n}.{uuid.uuid4().hex}@collabd.test>",
                            kind="reminder",
                            sender=base.sender,
                            recipients=f"owner{n % OWNERS}@collabd.test",
                            subject="bench",
                            raw=base.raw,
                            status="pending",
                            not_before=NOW,
                            created_at=NOW,
                            attempts=0,
                            last_error="",
                        )
                    )
            return [
                (base.sender, f"owner{n % OWNERS}@collabd.test", base.raw) for n in range(mails)
            ]

        def drained() -> None:  # let Postfix deliver the last batch before timing the next
            deadline = time.monotonic() + 120
            while stack.queued_message_ids() and time.monotonic() < deadline:
                time.sleep(0.2)

        def raw(rows: list[tuple[str, str, bytes]]) -> float:
            drained()
            started = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", stack.smtp_port) as smtp:
                for sender, recipient, raw_bytes in rows:
                    smtp.sendmail(sender, [recipient, journal], raw_bytes)
            return len(rows) / (time.perf_counter() - started)

        def ours() -> float:
            drained()
            started = time.perf_counter()
            report = send_due(
                app.db, app.transport.outgoing, app.clock, limit=mails + 10, journal=journal
            )
            assert len(report.sent) == mails, (len(report.sent), report.failed[:3])
            return mails / (time.perf_counter() - started)

        samples = []
        for n in range(rounds):  # raw first in even rounds, collabd first in odd ones
            rows = queue(n)
            if n % 2:
                our = ours()
                samples.append((raw(rows), our))
            else:
                samples.append((raw(rows), ours()))
        raw_rate = statistics.mean(r for r, _ in samples)
        our_rate = statistics.mean(o for _, o in samples)
        app.close()
        shares = ", ".join(f"{100 * o / r:.0f}%" for r, o in samples)
        print(
            f"send: raw smtplib {raw_rate:.0f} mails/s, collabd send_due {our_rate:.0f} "
            f"mails/s ({100 * our_rate / raw_rate:.0f}% of raw; rounds: {shares}), "
            f"{mails} mails per round",
            flush=True,
        )
        return raw_rate, our_rate
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--million", action="store_true", help="also 1M open items (minutes)")
    parser.add_argument("--mails", type=int, default=500, help="mails for the send benchmark")
    parser.add_argument("--no-send", action="store_true")
    parser.add_argument("--no-tick", action="store_true", help="only the send benchmark")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="collabd-bench-tick-") as tmp:
        for backend in [] if args.no_tick else backends:
            bench_tick(backend, sizes, Path(tmp))
        if not args.no_send:
            bench_send(args.mails, Path(tmp))


if __name__ == "__main__":
    main()
