"""Maildir ingest beside IMAP ingest in the same run, and whether Maildir ingest is linear.

The same 2,000 replies (bench/ingest.py's) are applied from the loopback Dovecot over IMAP
and from the collabd Maildir, in alternating rounds, each beside its raw read (imapclient
BODY.PEEK[] / reading the files); then 20,000 from the Maildir once, against the time of
2,000. SQLite ledger.

    .venv/bin/python bench/maildir_ingest.py [--replies 2000] [--rounds 5] [--big 20000]

Goals (issue 20): Maildir >= 0.9 x IMAP replies/s; 20,000 mails <= 11 x the time of 2,000.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.conditions import conditions, spread, table  # noqa: E402
from bench.ingest import make_app, raw_fetch, replies, seed_ledger  # noqa: E402
from daemon.app import App  # noqa: E402
from daemon.clock import FixedClock  # noqa: E402
from daemon.config import validate  # noqa: E402
from daemon.inbound.ingest import ingest_pass  # noqa: E402
from tests.conftest import START  # noqa: E402
from tests.mailstack import MailStack  # noqa: E402


def maildir_app(workdir: Path) -> App:
    tag = uuid.uuid4().hex[:8]
    settings = validate(
        {
            "daemon": {"data_dir": str(workdir / tag)},
            "store": {"url": f"sqlite:///{workdir / f'maildir-{tag}.sqlite3'}"},
            "mail": {"backend": "maildir", "address": f"bench-{tag}@bench.test"},
        },
        "bench",
    )
    return App(settings, clock=FixedClock(START))


def raw_read(inbox: Path) -> float:
    """The baseline: listing the inbox and reading every file."""
    started = time.perf_counter()
    for sub in ("new", "cur"):
        with os.scandir(inbox / sub) as entries:
            for entry in entries:
                Path(entry.path).read_bytes()
    return time.perf_counter() - started


def ingest(app: App, count: int) -> float:
    started = time.perf_counter()
    report = ingest_pass(app, app.transport.incoming, full=True)
    seconds = time.perf_counter() - started
    assert report.applied + report.ignored == count, report
    app.close()
    return seconds


def imap_round(stack: MailStack, count: int, workdir: Path) -> tuple[float, float]:
    from bench.ingest import append_all

    app = make_app(stack, "sqlite", workdir)
    append_all(stack, app.settings.mail.address, replies(count, seed_ledger(app, workdir)))
    raw_seconds, _ = raw_fetch(stack, app.settings.mail.address)
    return ingest(app, count), raw_seconds


def maildir_round(count: int, workdir: Path) -> tuple[float, float]:
    app = maildir_app(workdir)
    inbox = app.transport.incoming
    for raw in replies(count, seed_ledger(app, workdir)):
        inbox.deliver(app.settings.mail.address, raw)
    raw_seconds = raw_read(inbox.inbox)
    return ingest(app, count), raw_seconds


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big", type=int, default=20000, help="0: skip the linearity run")
    args = parser.parse_args()
    n = args.replies
    rates: dict[str, list[float]] = {"imap": [], "maildir": [], "imap raw": [], "maildir raw": []}
    maildir_seconds: list[float] = []
    with MailStack() as stack, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for round_ in range(args.rounds):
            order = ["imap", "maildir"] if round_ % 2 == 0 else ["maildir", "imap"]
            for path in order:
                if path == "imap":
                    seconds, raw = imap_round(stack, n, workdir)
                else:
                    seconds, raw = maildir_round(n, workdir)
                    maildir_seconds.append(seconds)
                rates[path].append(n / seconds)
                rates[f"{path} raw"].append(n / raw)
                print(f"round {round_ + 1} {path}: {n / seconds:.0f} replies/s", file=sys.stderr)
        big = maildir_round(args.big, workdir)[0] if args.big else None
    ratios = [m / i for m, i in zip(rates["maildir"], rates["imap"], strict=True)]
    rows = [
        [
            "IMAP (loopback Dovecot)",
            spread(rates["imap"], "{:.0f}"),
            spread(rates["imap raw"], "{:.0f}"),
        ],
        ["Maildir", spread(rates["maildir"], "{:.0f}"), spread(rates["maildir raw"], "{:.0f}")],
        ["Maildir ÷ IMAP, per round (goal >= 0.9)", spread(ratios, "{:.2f}"), ""],
    ]
    print(f"\ningest of {n} replies, SQLite, {args.rounds} alternating rounds")
    print(conditions())
    print(table(["path", "replies/s min / median / max", "raw reads/s min / median / max"], rows))
    if big is not None:
        median = statistics.median(maildir_seconds)
        print(
            f"\nMaildir {args.big} mails: {big:.1f} s = {big / median:.1f} x the median time of "
            f"{n} ({median:.1f} s); goal <= {1.1 * args.big / n:.0f} x"
        )


if __name__ == "__main__":
    main()
