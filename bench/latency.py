"""Reply -> answer latency: a reply submitted over SMTP to the loopback Postfix, delivered by
Dovecot into the collabd mailbox, noticed by `collabd run` on IMAP IDLE, applied, answered
and the answer delivered into the owner's Dovecot INBOX. Beside it, in alternating order,
the raw floor of one such hop: a plain mail submitted over SMTP until it shows in an INBOX.

    .venv/bin/python bench/latency.py [--replies 200]

Goal (issue 20): p50 <= 1.0 s. Dovecot's own IDLE notification delay (0.5 s) is part of
every collabd figure. Starts the loopback test mail stack (tests/mailstack.py).
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.conditions import conditions, spread, table  # noqa: E402
from tests.mailstack import MailStack  # noqa: E402
from tests.service_harness import (  # noqa: E402
    Daemon,
    NotifySocket,
    Workload,
    wait_until,
    write_config,
)

POLL = 0.01  # seconds between looks at the INBOX: well under the figures measured


def arrived(stack: MailStack, address: str, header: str, value: str, timeout: float = 30) -> None:
    """Until a mail whose `header` contains `value` is in the INBOX of `address`."""
    deadline = time.monotonic() + timeout
    with stack.imap_login(address) as client:  # logs out at the end
        while time.monotonic() < deadline:
            client.select_folder("INBOX", readonly=True)
            if client.search(["HEADER", header, value]):
                return
            time.sleep(POLL)
    raise TimeoutError(f"no mail with {header}: {value} for {address} in {timeout}s")


def submit(stack: MailStack, raw: bytes, sender: str, recipient: str) -> None:
    with smtplib.SMTP(stack.host, stack.smtp_port) as smtp:
        smtp.sendmail(sender, [recipient], raw)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="collabd-latency-") as tmp, MailStack() as stack:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'ledger.sqlite3'}"
        # One reply per owner: no one reaches the hourly answer limit.
        work = Workload(stack, url, workdir / "data", owners=args.replies, items=args.replies)
        work.seed(workdir, 0)
        replies = work.replies(args.replies)
        config = write_config(
            workdir / "collabd.toml", stack, url, workdir / "data", work.address, send_every="1s"
        )
        notify = NotifySocket(workdir)
        daemon = Daemon(config, workdir / "daemon.log", notify)
        collabd: list[float] = []
        raw: list[float] = []
        try:
            daemon.start()
            notify.wait_for("READY=1", timeout=120)
            wait_until(work.all_sent, 300, "the kick-off mails sent", every=0.5)
            time.sleep(2)  # idle: the watcher back in IDLE
            for n, reply in enumerate(replies):
                owner = work.owner(n % work.owners)
                message_id = work.reply_ids[n]
                plain = EmailMessage()
                plain["From"], plain["To"] = owner, owner
                plain["Subject"], plain["Message-ID"] = "raw hop", make_msgid(domain=stack.domain)
                plain.set_content("raw hop\n")
                measures = [
                    (raw, plain.as_bytes(), owner, "Message-ID", plain["Message-ID"]),
                    (collabd, reply, work.address, "In-Reply-To", message_id),
                ]
                for into, mail, recipient, header, value in measures[:: 1 if n % 2 else -1]:
                    started = time.perf_counter()
                    submit(stack, mail, owner, recipient)
                    arrived(stack, owner, header, value)
                    into.append(time.perf_counter() - started)
                print(f"{n + 1} {raw[-1]:.3f} {collabd[-1]:.3f}", file=sys.stderr, flush=True)
        finally:
            daemon.stop()
            notify.close()
        rows = [
            [
                name,
                str(len(values)),
                f"{statistics.median(values):.2f}",
                f"{percentile(values, 0.95):.2f}",
                spread(values, "{:.2f}"),
            ]
            for name, values in (
                ("raw: SMTP -> Dovecot INBOX (one hop)", raw),
                ("collabd: reply over SMTP -> answer in the owner's INBOX", collabd),
            )
        ]
        print(f"\nreply -> answer latency, {args.replies} replies, alternating with the raw hop")
        print(conditions())
        print(table(["path", "mails", "p50 s", "p95 s", "min / median / max s"], rows))


if __name__ == "__main__":
    main()
