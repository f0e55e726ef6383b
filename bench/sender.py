"""Send throughput: the outbox sender as the daemon runs it beside raw smtplib.

`send_due` (one SMTP connection per batch, the journal copy in each SMTP transaction as the
daemon sends on SMTP, daemon/service/journal.py) against raw smtplib sending the same bytes
to the same recipients (the journal address too) on one connection, to the same loopback
Postfix (the test mail stack, slot $COLLABD_MAILSTACK_SLOT), in alternating rounds: on a
2-core machine shared by Postfix, Dovecot and the sender, whichever goes first after the
queue drains runs slower, so each side goes first in half of the rounds.

    .venv/bin/python bench/sender.py [--mails 500] [--rounds 8] [--backend sqlite|postgresql]

Goal (issue 20): collabd >= 95 % of raw smtplib, median of the per-round ratios, with its
exactly-once guarantee intact (the in-flight marks committed before each SMTP transaction).
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import select, update  # noqa: E402

from bench.conditions import conditions, spread, table  # noqa: E402
from bench.tick import DUE, NOW, OWNERS, _app, _database, _drop, load  # noqa: E402
from daemon.mail.send import send_due  # noqa: E402
from daemon.rules.tick import run_tick  # noqa: E402
from daemon.service.journal import journal_address  # noqa: E402
from daemon.store.models import OutboxMessage  # noqa: E402
from tests.mailstack import MailStack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=500, help="mails per round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    mails = args.mails
    name = f"collabd_bench_send_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="collabd-bench-send-") as tmp, MailStack() as stack:
        app = _app(_database(args.backend, Path(tmp), name), Path(tmp) / "send", stack.smtp_port)
        try:
            load(app, DUE)
            run_tick(app, NOW - timedelta(days=1))
            run_tick(app, NOW)  # 100 real reminder mails: the rounds send copies of one
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

            def drained() -> None:  # Postfix delivers the last round before the next is timed
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
                seconds = time.perf_counter() - started
                assert len(report.sent) == mails, (len(report.sent), report.failed[:3])
                return mails / seconds

            raw_rates, our_rates = [], []
            for round_ in range(args.rounds):  # raw first in even rounds, collabd in odd ones
                rows = queue(round_)
                if round_ % 2:
                    our_rates.append(ours())
                    raw_rates.append(raw(rows))
                else:
                    raw_rates.append(raw(rows))
                    our_rates.append(ours())
                share = our_rates[-1] / raw_rates[-1]
                print(f"round {round_ + 1}: {100 * share:.0f}% of raw", file=sys.stderr)
            with app.db.transaction() as session:  # every mail of every round went out once
                sent = session.scalars(
                    select(OutboxMessage.id).where(OutboxMessage.status == "sent")
                ).all()
            assert len(sent) == mails * args.rounds, len(sent)
        finally:
            app.close()
            _drop(args.backend, name)
    shares = [o / r for o, r in zip(our_rates, raw_rates, strict=True)]
    print(
        f"\nsend: {mails} mails per round, {args.backend} ledger, {args.rounds} alternating rounds"
    )
    print(conditions())
    print(
        table(
            ["what", "min / median / max", "unit"],
            [
                ["raw smtplib, one connection (baseline)", spread(raw_rates, "{:.0f}"), "mails/s"],
                ["collabd send_due with the journal copy", spread(our_rates, "{:.0f}"), "mails/s"],
                [
                    "collabd ÷ raw per round (goal: median >= 95 %)",
                    spread([100 * s for s in shares], "{:.0f}"),
                    "%",
                ],
            ],
        )
    )
    print(f"median of the per-round ratios: {100 * statistics.median(shares):.0f} %")


if __name__ == "__main__":
    main()
