"""Runs inside Roundup's own venv (bench/peer_roundup.py makes it): sets up a classic tracker
with bench/ingest.py's people and items, and times Roundup's mail gateway over a mailbox.

    python roundup_gateway.py setup TRACKER OWNERS ITEMS
    python roundup_gateway.py imap TRACKER HOST PORT USER PASSWORD
    python roundup_gateway.py mbox TRACKER FILE

`imap` and `mbox` print one JSON line: the seconds the gateway took (opening the tracker is
not counted, as collabd's App is opened before its clock starts) and how many messages the
tracker holds afterwards. Kept free of collabd imports: it runs on Roundup's Python path.
"""

from __future__ import annotations

import imaplib
import json
import sys
import time
from types import SimpleNamespace


def setup(home: str, owners: int, items: int) -> None:
    from roundup import instance

    tracker = instance.open(home)
    db = tracker.open("admin")
    users = [
        db.user.create(
            username=f"owner{i}",
            address=f"owner{i}@bench.test",
            realname=f"负责人{i}",
            roles="User",
        )
        for i in range(owners)
    ]
    for n in range(1, items + 1):
        db.issue.create(title=f"任务 {n}", assignedto=users[(n - 1) % owners])
    db.commit()
    db.close()


def gateway(home: str):
    from roundup import instance, mailgw

    tracker = instance.open(home)
    # The options roundup-mailgw passes when it is given none.
    options = SimpleNamespace(default_class="", set_value=[], oauth_directory=None)
    handler = (
        tracker.MailGW(tracker, options)
        if hasattr(tracker, "MailGW")
        else mailgw.MailGW(tracker, options)
    )
    return tracker, handler


def messages(tracker) -> int:
    db = tracker.open("admin")
    try:
        return len(db.msg.list())
    finally:
        db.close()


def timed(tracker, run) -> None:
    started = time.perf_counter()
    code = run()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "code": code or 0, "messages": messages(tracker)}))


def main(argv: list[str]) -> None:
    mode, home, *rest = argv
    if mode == "setup":
        setup(home, int(rest[0]), int(rest[1]))
        return
    tracker, handler = gateway(home)
    if mode == "mbox":
        timed(tracker, lambda: handler.do_mailbox(rest[0]))
    elif mode == "imap":
        host, port, user, password = rest
        base = imaplib.IMAP4

        class Loopback(base):  # roundup-mailgw takes no port; the test Dovecot has its own
            def __init__(self, _host: str) -> None:
                super().__init__(host, int(port))

        imaplib.IMAP4 = Loopback
        timed(tracker, lambda: handler.do_imap(host, user, password, "INBOX"))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
