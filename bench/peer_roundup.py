"""collabd beside Roundup's mail gateway (the classic tracker people update by mail), on the
same status replies, in alternating rounds on the same machine.

    .venv/bin/python bench/peer_roundup.py [--replies 2000] [--rounds 5] [--venv DIR]

Roundup 2.x comes from PyPI into a venv of its own (not a dependency of collabd; made once
in --venv, then reused), as a classic tracker on SQLite with bench/ingest.py's 200 owners and
400 items as users and issues. Each round gives the same replies (bench/ingest.py's: "#n 完成",
"#n 进行中 p%" … with the same bodies; for Roundup "[issue<n>] … [status=…]" in the subject,
as its users write them) to:

- IMAP: collabd from the loopback Dovecot (tests/mailstack.py), Roundup's `imap` source
  from a mailbox of its own on the same Dovecot;
- local files: collabd from its Maildir, Roundup from an mbox (its `mailbox` source).

Each side is timed around its pass over the mailbox alone (the ledger or tracker is opened
first). collabd applies each reply and queues its answer; Roundup files each message and sends
its nosy mail to a file (mail_debug). Goal (issue 20): collabd ÷ Roundup >= 10x median on
both paths. Needs root and the Debian packages of tests/install-mailstack.sh, and PyPI.
"""

from __future__ import annotations

import argparse
import json
import logging
import mailbox
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from email import message_from_bytes, policy
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.conditions import conditions, spread, table  # noqa: E402
from bench.ingest import ITEMS, OWNERS, append_all, replies  # noqa: E402
from bench.maildir_ingest import imap_round, maildir_round  # noqa: E402
from tests.mailstack import MailStack  # noqa: E402

GATEWAY = Path(__file__).with_name("roundup_gateway.py")
ROUNDUP = "roundup>=2,<3"
# bench/ingest.py's status words as the classic tracker's statuses.
COMMAND = re.compile(r"#(\d+) (完成|进行中|阻塞|需支持)")
STATUS = {"完成": "resolved", "进行中": "in-progress", "阻塞": "deferred", "需支持": "need-eg"}


def roundup_venv(venv: Path) -> Path:
    """Roundup's Python, installed from PyPI on first use."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "roundup-admin").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", ROUNDUP],
            check=True,
        )
    return python


def make_tracker(python: Path, home: Path) -> None:
    """A classic tracker on SQLite with the owners as users and the items as issues 1..400;
    its outgoing mail goes to a file."""
    admin = str(python.with_name("roundup-admin"))
    settings = ",".join(
        [
            "tracker_web=http://localhost:8917/bench/",
            "mail_domain=bench.test",
            "tracker_email=issues@bench.test",
            f"mail_debug={home / 'outgoing-mail.txt'}",
        ]
    )
    quiet = {"check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([admin, "-i", str(home), "install", "classic", "sqlite", settings], **quiet)
    subprocess.run([admin, "-i", str(home), "initialise", "bench-admin"], **quiet)
    subprocess.run(
        [str(python), str(GATEWAY), "setup", str(home), str(OWNERS), str(ITEMS)], check=True
    )


def roundup_mails(count: int) -> list[bytes]:
    """bench/ingest.py's replies, addressed as Roundup's users write them: the issue and the
    new status in the subject, the same body."""
    mails = []
    for raw in replies(count, ["unused@bench.test"] * OWNERS):
        message = message_from_bytes(raw, policy=policy.default)
        number, word = COMMAND.match(message.get_content()).groups()
        del message["To"], message["Subject"]
        message["To"] = "issues@bench.test"
        message["Subject"] = f"Re: [issue{number}] 任务 {number} [status={STATUS[word]}]"
        mails.append(message.as_bytes())
    return mails


def run_gateway(python: Path, *args: str) -> dict:
    out = subprocess.run(
        [str(python), str(GATEWAY), *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def roundup_round(
    python: Path, template: Path, workdir: Path, mails: list[bytes], source: str, stack
) -> float:
    home = workdir / f"tracker-{uuid.uuid4().hex[:8]}"
    shutil.copytree(template, home)
    if source == "imap":
        address = stack.address(f"roundup-{home.name}")
        append_all(stack, address, mails)
        result = run_gateway(
            python, "imap", str(home), stack.host, str(stack.imap_port), address, stack.password
        )
    else:
        path = workdir / f"{home.name}.mbox"
        box = mailbox.mbox(path)
        for raw in mails:
            box.add(raw)
        box.close()
        result = run_gateway(python, "mbox", str(home), str(path))
    # Every reply became a message of its issue, or the comparison is void.
    assert result["code"] == 0 and result["messages"] == len(mails), result
    shutil.rmtree(home)
    return result["seconds"]


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "collabd-bench-roundup",
        help="where Roundup is installed (made on first use, reused after)",
    )
    args = parser.parse_args()
    n = args.replies
    python = roundup_venv(args.venv)
    version = subprocess.run(
        [str(python), "-c", "import roundup; print(roundup.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    mails = roundup_mails(n)
    rates: dict[str, list[float]] = {
        "collabd imap": [],
        "roundup imap": [],
        "collabd maildir": [],
        "roundup mbox": [],
    }
    with MailStack() as stack, tempfile.TemporaryDirectory(prefix="collabd-peer-") as tmp:
        workdir = Path(tmp)
        template = workdir / "tracker-template"
        make_tracker(python, template)
        measures = {
            "collabd imap": lambda: imap_round(stack, n, workdir)[0],
            "roundup imap": lambda: roundup_round(python, template, workdir, mails, "imap", stack),
            "collabd maildir": lambda: maildir_round(n, workdir)[0],
            "roundup mbox": lambda: roundup_round(python, template, workdir, mails, "mbox", stack),
        }
        for round_ in range(args.rounds):
            order = list(measures) if round_ % 2 == 0 else list(measures)[::-1]
            for name in order:
                seconds = measures[name]()
                rates[name].append(n / seconds)
                print(f"round {round_ + 1} {name}: {n / seconds:.0f} replies/s", file=sys.stderr)

    def ratios(ours: str, theirs: str) -> list[float]:
        return [a / b for a, b in zip(rates[ours], rates[theirs], strict=True)]

    rows = [
        [
            "IMAP (loopback Dovecot), SQLite",
            spread(rates["collabd imap"], "{:.0f}"),
            spread(rates["roundup imap"], "{:.0f}"),
            spread(ratios("collabd imap", "roundup imap"), "{:.1f}"),
        ],
        [
            "local files (collabd Maildir, Roundup mbox), SQLite",
            spread(rates["collabd maildir"], "{:.0f}"),
            spread(rates["roundup mbox"], "{:.0f}"),
            spread(ratios("collabd maildir", "roundup mbox"), "{:.1f}"),
        ],
    ]
    print(f"\n{n} status replies, collabd beside Roundup {version}, {args.rounds} rounds")
    print(conditions())
    print(
        table(
            [
                "path",
                "collabd replies/s (min / median / max)",
                "Roundup replies/s",
                "collabd ÷ Roundup per round (goal: median >= 10)",
            ],
            rows,
        )
    )
    maildir_vs_imap = ratios("collabd maildir", "collabd imap")
    print(f"\ncollabd Maildir ÷ IMAP per round (goal >= 0.9): {spread(maildir_vs_imap, '{:.2f}')}")


if __name__ == "__main__":
    main()
