"""A lean daemon: how long `collabd --help` and `collabd items list` take to start, and how
much memory `collabd run` holds when idle on the IMAP backend, each beside its raw baseline
(a bare `python -c pass`; a bare imapclient session in IDLE), in alternating rounds.

    .venv/bin/python bench/lean.py [--rounds 7]

Goals (issue 20): start-up <= 0.3 s; `collabd run` idle <= 60 MiB RSS. Starts the loopback
test mail stack (tests/mailstack.py: root and the Debian packages of
tests/install-mailstack.sh); the ledger is SQLite with the demo's people and collaboration.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.conditions import conditions, spread, table  # noqa: E402
from tests.mailstack import MailStack  # noqa: E402
from tests.service_harness import Daemon, NotifySocket, write_config  # noqa: E402

PYTHON = sys.executable
DEMO = REPO / "daemon" / "demo"
IDLE_SECONDS = 5.0  # after READY: the first tick and the first pass are over by then

RAW_IDLE = """
import sys, time
from imapclient import IMAPClient
client = IMAPClient(sys.argv[1], port=int(sys.argv[2]), ssl=False)
client.login(sys.argv[3], sys.argv[4])
client.select_folder("INBOX")
client.idle()
print("idle", flush=True)
time.sleep(600)
"""


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - started


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def daemon_rss(config: Path, workdir: Path) -> float:
    notify = NotifySocket(workdir)
    daemon = Daemon(config, workdir / f"daemon-{uuid.uuid4().hex[:6]}.log", notify)
    try:
        daemon.start()
        notify.wait_for("READY=1", timeout=60)
        time.sleep(IDLE_SECONDS)
        return rss_mib(daemon.pid)
    finally:
        daemon.stop()
        notify.close()


def raw_rss(stack: MailStack, address: str) -> float:
    process = subprocess.Popen(
        [PYTHON, "-c", RAW_IDLE, stack.host, str(stack.imap_port), address, stack.password],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "idle"
        time.sleep(IDLE_SECONDS)
        return rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="collabd-lean-") as tmp, MailStack() as stack:
        workdir = Path(tmp)
        address = stack.address(f"lean-{uuid.uuid4().hex[:6]}")
        config = write_config(
            workdir / "collabd.toml",
            stack,
            f"sqlite:///{workdir / 'ledger.sqlite3'}",
            workdir / "data",
            address,
        )
        collabd = [PYTHON, "-m", "daemon", "--config", str(config)]
        subprocess.run([*collabd, "db", "upgrade"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [*collabd, "people", "import", str(DEMO / "people.csv")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [*collabd, "collab", "create", "--file", str(DEMO / "collaboration.toml")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        runs: dict[str, list[float]] = {
            "python -c pass": [],
            "collabd --help": [],
            "collabd items list": [],
            "imapclient IDLE": [],
            "collabd run (idle)": [],
        }
        for round_ in range(args.rounds):
            order = [
                ("python -c pass", lambda: timed([PYTHON, "-c", "pass"])),
                ("collabd --help", lambda: timed([*collabd, "--help"])),
                ("collabd items list", lambda: timed([*collabd, "items", "list"])),
            ]
            if round_ % 2:
                order.reverse()
            for name, measure in order:
                runs[name].append(measure())
            if round_ < max(5, args.rounds // 2 + 1):  # memory: 5 rounds are plenty
                memory = [
                    ("imapclient IDLE", lambda: raw_rss(stack, address)),
                    ("collabd run (idle)", lambda: daemon_rss(config, workdir)),
                ]
                for name, measure in memory if round_ % 2 == 0 else memory[::-1]:
                    runs[name].append(measure())
        rows = [
            ["start-up, raw baseline: `python -c pass`", spread(runs["python -c pass"]), "s"],
            ["`collabd --help` (goal <= 0.3 s)", spread(runs["collabd --help"]), "s"],
            ["`collabd items list` (goal <= 0.3 s)", spread(runs["collabd items list"]), "s"],
            [
                "RSS, raw baseline: imapclient in IDLE",
                spread(runs["imapclient IDLE"], "{:.1f}"),
                "MiB",
            ],
            [
                "`collabd run` idle, IMAP backend (goal <= 60 MiB)",
                spread(runs["collabd run (idle)"], "{:.1f}"),
                "MiB",
            ],
        ]
        print(f"\nlean daemon, {args.rounds} alternating rounds (min / median / max)")
        print(conditions())
        print(table(["what", "min / median / max", "unit"], rows))


if __name__ == "__main__":
    main()
