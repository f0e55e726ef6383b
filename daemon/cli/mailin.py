"""`collabd parse-reply FILE.eml` and `collabd ingest`: reading replies."""

from __future__ import annotations

import argparse
import email
import email.policy
import signal
import sys
import threading
from pathlib import Path

from ..inbound.ingest import IngestReport, ingest_pass
from ..inbound.watcher import MailboxWatcher
from ..mail.reply import parse_reply
from ..mail.send import send_due
from ..mail.transport import EwsMailbox, ImapMailbox
from .commands import HELP
from .context import Context
from .output import emit_json

MAIL_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "received",
    "mime-version",
    "content-type",
    "return-path",
    "delivered-to",
)


def register(commands: argparse._SubParsersAction) -> None:
    parse = commands.add_parser(
        "parse-reply",
        help=HELP["parse-reply"],
        description="Read one .eml file as collabd reads a reply: the commands, minutes and "
        "acceptance verdicts in what the person typed (quoted history, signatures "
        "and client boilerplate removed). Prints one JSON object; exit 2 if the "
        "file is not a mail.",
    )
    parse.add_argument("file", type=Path, metavar="FILE.eml")
    parse.add_argument(
        "--sent",
        type=Path,
        metavar="FILE.txt",
        help="the text of the mail this replies to (its lines are not commands)",
    )
    parse.set_defaults(handler=parse_reply_command)

    ingest = commands.add_parser(
        "ingest",
        help=HELP["ingest"],
        description="One pass over the collabd mailbox (maildir, IMAP or EWS): every mail is "
        "applied in one transaction with its log row, then filed into the processed folder "
        "(or quarantine after 3 failed tries). Answers are queued in the outbox.",
    )
    ingest.add_argument("--json", action="store_true")
    ingest.set_defaults(handler=ingest_command)

    watch = commands.add_parser(
        "watch",
        help=HELP["watch"],
        description="Watch the collabd mailbox (IMAP IDLE, an EWS pull subscription; a "
        "maildir is polled), apply each "
        "reply as it arrives and send the answers. Stops cleanly on SIGINT or "
        "SIGTERM. (`collabd run` adds the rule ticks.)",
    )
    watch.add_argument(
        "--interval",
        type=float,
        default=5.0,
        help="seconds between looks at a maildir inbox (default 5)",
    )
    watch.set_defaults(handler=watch_command)


def parse_reply_command(context: Context, args: argparse.Namespace) -> int:
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        print(f"collabd: error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not raw.strip() or not any(name.lower() in MAIL_HEADERS for name in message):
        print(
            f"collabd: error: {args.file} is not a mail (no mail headers such as From:, "
            "Subject: or Message-ID: at the top)",
            file=sys.stderr,
        )
        return 2
    sent = args.sent.read_text(encoding="utf-8").splitlines() if args.sent else ()
    emit_json(parse_reply(raw, sent_lines=sent).to_json())
    return 0


def ingest_command(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    report = ingest_pass(app, app.transport.incoming, full=True)
    if args.json:
        emit_json(vars(report))
        return 0
    print(
        f"applied {report.applied}, ignored {report.ignored}, duplicates "
        f"{report.duplicates}, failed {report.failed}, quarantined {report.quarantined}"
    )
    for line in report.details:
        print(f"  {line}")
    if report.fault:  # a fault of the machine, not of the mail: it waits, uncounted
        print(
            f"collabd: ingest stopped: {report.fault}; the mail waits in the inbox", file=sys.stderr
        )
        return 69
    return 0


def watch_command(context: Context, args: argparse.Namespace) -> int:
    app = context.app
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def send_answers(report: IngestReport) -> None:
        sent = send_due(app.db, app.transport.outgoing, app.clock)
        if report.handled or sent.sent:
            print(
                f"{context.local(app.clock.now())} applied {report.applied}, ignored "
                f"{report.ignored}, duplicates {report.duplicates}, quarantined "
                f"{report.quarantined}; sent {len(sent.sent)}",
                flush=True,
            )

    incoming = app.transport.incoming
    print(f"watching {incoming.name} (Ctrl-C to stop)", flush=True)
    if isinstance(incoming, ImapMailbox | EwsMailbox):  # both can wait for new mail
        MailboxWatcher(app, incoming, stop, after_pass=send_answers).run()
        return 0
    while not stop.is_set():
        send_answers(ingest_pass(app, incoming, full=True))
        stop.wait(args.interval)
    return 0
