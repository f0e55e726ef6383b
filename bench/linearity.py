"""Issue 15: the inputs that were quadratic, fed at 10 KB and 100 KB. Linear is ≈ 10×.

Usage::

    .venv/bin/python bench/linearity.py [--rounds 5]

Each input is one a stranger could mail collabd: the reply reader's body (`parse_reply`, the
whole pipeline: MIME, quotes, grammar) with `#1` + blanks + `x` (66 s at 51 KB before the
fix), its acceptance forms, HTML-only replies of unclosed start tags or comments (`<a ` ×
20,000 took 38 s), and the minutes reader's table rows (40,000 `<td>` took 31 s)
and date cells. For each, rounds alternate with a raw baseline over the same bytes (the
email package parsing the mail, which any reader must do), and the script prints
min/median/max seconds at both sizes and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import datetime
import email
import email.policy
import statistics
import sys
import time
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from daemon.mail.reply import parse_reply  # noqa: E402
from daemon.minutes.resolve import read_date  # noqa: E402
from daemon.minutes.sheet import tables_as_rows  # noqa: E402

TODAY = datetime.date(2026, 11, 30)
SIZES = (10_000, 100_000)


def _mail(body: str) -> bytes:
    message = EmailMessage()
    message["From"] = "li.na@example.com"
    message["To"] = "collabd@example.com"
    message["Subject"] = "回复：您负责的行动项"
    message.set_content(body)
    return message.as_bytes()


def _fill(head: str, piece: str, tail: str, size: int) -> str:
    return head + piece * max(1, (size - len(head) - len(tail)) // len(piece)) + tail


def _html_mail(body: str) -> bytes:
    message = EmailMessage()
    message["From"] = "li.na@example.com"
    message["To"] = "collabd@example.com"
    message["Subject"] = "回复：您负责的行动项"
    message.set_content(body, subtype="html")
    return message.as_bytes()


def _html_reply(piece: str):
    """An HTML-only reply of `size` bytes made of `piece` (no closing markup after it)."""

    def make(size: int) -> bytes:
        return _html_mail(_fill("#1 完成", piece, "", size))

    return make, lambda raw: parse_reply(raw, today=TODAY)


def _reply(head: str, piece: str, tail: str):
    """A reply mail of `size` bytes, read by the whole reply pipeline."""

    def make(size: int) -> bytes:
        return _mail(_fill(head, piece, tail, size))

    return make, lambda raw: parse_reply(raw, today=TODAY)


INPUTS = {
    "#1 + blanks + x": _reply("#1", " ", "x"),
    "验收 #1 + blanks": _reply("验收 #1", " ", "x"),
    "#1 + tabs + 验收": _reply("#1", "\t", "验收x"),
    "#1 进度 + blanks": _reply("#1 进度", " ", "x"),
    "html <a ": _html_reply("<a "),
    'html <a href="': _html_reply('<a href="'),
    "html <!--": _html_reply("<!--"),
    # issue 16's grammar: thanks after a confirmation, on-track notes, relative delays,
    # multi-command lines (each segment is read on its own)
    "确认 + ，，，": _reply("确认", "，", "x"),
    "谢谢 + thanks": _reply("收到", "，谢谢", "x"),
    "on track + ,": _reply("on track", " ,", "x"),
    "#1 延期至 + 下": _reply("#1 延期至", "下", "周x"),
    "#1 postpone to + end of": _reply("#1 postpone to ", "end of ", "x"),
    "30% + ；": _reply("30%", "；30%", "x"),
    "minutes <td>": (
        lambda size: _fill("<table><tr>", "<td>", "</tr></table>", size),
        tables_as_rows,
    ),
    "minutes <tr": (lambda size: _fill("<table>", "<tr", "</table>", size), tables_as_rows),
    "date + (((": (
        lambda size: _fill("12月5日", "(", "x", size),
        lambda text: read_date(text, TODAY),
    ),
    "date + blanks": (
        lambda size: _fill("12月5日", " ", "x", size),
        lambda text: read_date(text, TODAY),
    ),
}


def _baseline(data: bytes | str) -> None:
    raw = data if isinstance(data, bytes) else data.encode()
    email.message_from_bytes(raw, policy=email.policy.compat32).get_payload()


def _time(work, data) -> float:
    start = time.perf_counter()
    work(data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(
        f"{'input':<20}{'10 KB s min/med/max':>26}{'100 KB s min/med/max':>28}"
        f"{'ratio':>8}{'baseline ratio':>16}"
    )
    for name, (make, work) in INPUTS.items():
        medians, baselines, shown = [], [], []
        for size in SIZES:
            data = make(size)
            timed, raw = [], []
            for round_ in range(args.rounds):  # alternate, so drift hits both alike
                order = [(work, timed), (_baseline, raw)]
                for job, into in order if round_ % 2 == 0 else reversed(order):
                    into.append(_time(job, data))
            medians.append(statistics.median(timed))
            baselines.append(statistics.median(raw))
            shown.append(f"{min(timed):.4f}/{medians[-1]:.4f}/{max(timed):.4f}")
        print(
            f"{name:<20}{shown[0]:>26}{shown[1]:>28}"
            f"{medians[1] / medians[0]:>7.1f}×{baselines[1] / baselines[0]:>15.1f}×"
        )


if __name__ == "__main__":
    main()
