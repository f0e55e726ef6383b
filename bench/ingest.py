"""Ingest throughput: 2,000 replies in the collabd mailbox on the real Dovecot, read and
applied by collabd (parse, authorize, update the ledger, queue the answer, commit, file the
mail), beside a raw imapclient fetch of the same mailbox in the same run.

    .venv/bin/python bench/ingest.py [--replies 2000] [--backend sqlite|postgresql|both]

Starts the loopback test mail stack (tests/mailstack.py; needs root and the Debian
packages from tests/install-mailstack.sh). Mail is put into Dovecot with IMAP APPEND, which
is delivery into the same store Postfix/LMTP writes to, only faster to set up.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from bench.conditions import conditions, spread, table  # noqa: E402
from daemon.announce import start_collaboration  # noqa: E402
from daemon.app import App  # noqa: E402
from daemon.clock import FixedClock  # noqa: E402
from daemon.config import validate  # noqa: E402
from daemon.inbound.ingest import ingest_pass  # noqa: E402
from daemon.ledger.history import Origin  # noqa: E402
from daemon.ledger.people import import_people  # noqa: E402
from daemon.ledger.specs import CollaborationSpec  # noqa: E402
from tests.conftest import START  # noqa: E402
from tests.mailstack import MailStack  # noqa: E402

# Enough owners that no one sends more than the hourly answer limit: every reply is answered.
OWNERS = 200
ITEMS = 400
STATUSES = ["#{n} 完成", "#{n} 进行中 {p}%", "#{n} 阻塞: 等待设计评审", "#{n} 需支持：需要测试环境"]


def make_app(stack: MailStack, backend: str, workdir: Path) -> App:
    tag = uuid.uuid4().hex[:8]
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{tag}.sqlite3'}"
    else:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "collabd_bench_{tag}"')
        url = f"postgresql://postgres@127.0.0.1/collabd_bench_{tag}"
    settings = validate(
        {
            "daemon": {"data_dir": str(workdir / tag)},
            "store": {"url": url},
            "mail": {
                "backend": "imap",
                "address": stack.address(f"bench-{tag}"),
                "smtp": {"host": stack.host, "port": stack.smtp_port, "security": "none"},
                "imap": {
                    "host": stack.host,
                    "port": stack.imap_port,
                    "security": "none",
                    "password": stack.password,
                },
            },
        },
        "bench",
    )
    return App(settings, clock=FixedClock(START))


def seed_ledger(app: App, workdir: Path) -> list[str]:
    csv = workdir / "people.csv"
    rows = ["name,email,department,locale", "协调人,coord@bench.test,总经办,zh-CN"]
    rows += [f"负责人{i},owner{i}@bench.test,部门{i % 5},zh-CN" for i in range(OWNERS)]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = CollaborationSpec.model_validate(
        {
            "code": "bench",
            "theme": "吞吐量测试",
            "initiator": "coord@bench.test",
            "items": [
                {"description": f"任务 {n}", "owner": f"owner{n % OWNERS}@bench.test"}
                for n in range(ITEMS)
            ],
        }
    )
    with app.db.transaction() as session:
        import_people(session, csv, Origin.system("bench"), START)
        collab = start_collaboration(session, app, spec, Origin.system("bench"))
        return [
            app.tokens.reply_address(app.tokens.issue(2 + i, collab.id, START))
            for i in range(OWNERS)
        ]


def replies(count: int, reply_addresses: list[str]) -> list[bytes]:
    mails = []
    for i in range(count):
        # Every reply changes its item: each pass over the items uses the next status word.
        number = i % ITEMS + 1
        owner = (number - 1) % OWNERS
        message = EmailMessage()
        message["From"] = f"负责人{owner} <owner{owner}@bench.test>"
        message["To"] = reply_addresses[owner]
        message["Subject"] = f"回复：[协作 bench] 您负责的行动项：#{number}"
        message["Message-ID"] = make_msgid(domain="bench.test")
        message["Date"] = "Mon, 30 Nov 2026 10:00:00 +0800"
        command = STATUSES[(i // ITEMS) % len(STATUSES)].format(n=number, p=i % 100)
        message.set_content(
            f"{command}\n\n谢谢！\n\n在 2026年11月23日 09:06，collabd 写道：\n"
            f"> 负责人{owner}，您好：\n> #{number} 任务 {number}\n"
        )
        mails.append(message.as_bytes())
    return mails


def append_all(stack: MailStack, address: str, mails: list[bytes]) -> None:
    with stack.imap_login(address) as client:
        for raw in mails:
            client.append("INBOX", raw)


def raw_fetch(stack: MailStack, address: str) -> tuple[float, int]:
    """The baseline: what it costs just to get the bytes out of Dovecot."""
    start = time.perf_counter()
    with stack.imap_login(address) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        fetched = 0
        for first in range(0, len(uids), 200):
            fetched += len(client.fetch(uids[first : first + 200], ["BODY.PEEK[]"]))
    return time.perf_counter() - start, fetched


def run(stack: MailStack, backend: str, count: int, workdir: Path) -> dict:
    app = make_app(stack, backend, workdir)
    addresses = seed_ledger(app, workdir)
    append_all(stack, app.settings.mail.address, replies(count, addresses))
    raw_seconds, fetched = raw_fetch(stack, app.settings.mail.address)
    start = time.perf_counter()
    report = ingest_pass(app, app.transport.incoming, full=True)
    seconds = time.perf_counter() - start
    assert report.applied + report.ignored == count == fetched, report
    app.close()
    return {
        "backend": backend,
        "replies": count,
        "seconds": seconds,
        "rate": count / seconds,
        "raw_seconds": raw_seconds,
        "raw_rate": fetched / raw_seconds,
        "applied": report.applied,
    }


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rates: dict[str, list[float]] = {b: [] for b in backends}
    raw_rates: dict[str, list[float]] = {b: [] for b in backends}
    with MailStack() as stack, tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):  # each backend goes first in every other round
            for backend in backends if round_ % 2 == 0 else backends[::-1]:
                r = run(stack, backend, args.replies, Path(tmp))
                rates[backend].append(r["rate"])
                raw_rates[backend].append(r["raw_rate"])
                print(f"round {round_ + 1} {backend}: {r['rate']:.0f} replies/s", file=sys.stderr)
    rows = [
        [backend, spread(rates[backend], "{:.0f}"), spread(raw_rates[backend], "{:.0f}")]
        for backend in backends
    ]
    if len(backends) == 2:
        ratios = [p / s for s, p in zip(rates["sqlite"], rates["postgresql"], strict=True)]
        rows.append(["PostgreSQL ÷ SQLite per round (goal >= 0.8)", spread(ratios, "{:.2f}"), ""])
    print(f"\ningest of {args.replies} replies over IMAP, {args.rounds} alternating rounds")
    print(conditions())
    header = ["ledger", "replies/s (min / median / max)", "raw IMAP fetch, mails/s"]
    print(table(header, rows))


if __name__ == "__main__":
    main()
