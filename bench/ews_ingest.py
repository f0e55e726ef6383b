"""Ingest throughput on the Exchange (EWS) backend: N replies in the collabd mailbox of the
loopback EWS fixture server (tests/ews_server.py, a protocol-level fixture, not a live
Exchange), read, applied and filed by one ingest pass on SQLite; prints the time and the EWS
requests it took.

    .venv/bin/python bench/ews_ingest.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from daemon.inbound.ingest import ingest_pass  # noqa: E402
from tests.ews_fixture import ews_app  # noqa: E402
from tests.ews_server import EwsServer  # noqa: E402
from tests.test_ingest_ews import EwsWorld  # noqa: E402


def main(n: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    with EwsServer(f"collabd-bench@{EwsWorld.domain}") as server:
        app = ews_app(tmp, f"sqlite:///{tmp / 'bench.sqlite3'}", server)
        world = EwsWorld(app, server, tmp)
        assignment = world.received("li.na", "您负责的行动项")
        for i in range(n):
            world.deliver(world.reply(assignment, f"#1 进行中 {i % 100}%", world.address("li.na")))
        before = len(server.box.requests)
        started = time.perf_counter()
        report = ingest_pass(app, app.transport.incoming)
        took = time.perf_counter() - started
        ops = server.box.requests[before:]
        calls = ", ".join(f"{op}×{ops.count(op)}" for op in sorted(set(ops)))
        print(
            f"{n} mails: {report.applied} applied, {report.ignored} ignored in {took:.2f}s "
            f"({n / took:.0f} mails/s); {len(ops)} EWS requests: {calls}"
        )
        app.close()


if __name__ == "__main__":
    import logging

    logging.disable(logging.WARNING)  # the per-hour answer limit warns for every mail
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
