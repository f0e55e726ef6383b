"""Is reading a holiday notice linear in its length, whatever the text? Measured.

Usage::

    .venv/bin/python bench/notice_parser.py [--rounds 5]

For hostile texts (long runs of the pieces the parser's patterns look for) and the real
2026 notice repeated, it times `read_notice` at 25k, 50k, 100k and 200k characters, in
alternating order with a raw baseline (NFKC-normalising the same text, which any reader
must do), and prints min/median/max microseconds per 1,000 characters. Linear means the
per-1,000 figure stays flat as the size doubles.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from daemon.rules.notice import MAX_CHARS, NoticeError, read_notice  # noqa: E402

NOTICE = (REPO / "tests" / "holiday_notices" / "2026.txt").read_text(encoding="utf-8")
PIECES = {
    "notice": NOTICE,
    "numerals": "一",
    "digits": "1",
    "headers": "一二三、",
    "months": "1月",
    "open-paren": "12日(周",
    "items": "二、元旦:",
    "tags": "<",
}
SIZES = (25_000, 50_000, 100_000, MAX_CHARS)


def _parse(text: str) -> None:
    with contextlib.suppress(NoticeError):
        read_notice(text, 2026)


def _baseline(text: str) -> None:
    unicodedata.normalize("NFKC", text)


def _time(work, text: str) -> float:
    start = time.perf_counter()
    work(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'input':<12}{'chars':>8}  {'parse µs/1k min/med/max':>28}  {'NFKC µs/1k':>12}")
    for name, piece in PIECES.items():
        for size in SIZES:
            text = (piece * (size // len(piece) + 1))[:size]
            parsed, raw = [], []
            for round_ in range(args.rounds):  # alternate, so drift hits both alike
                order = [(_parse, parsed), (_baseline, raw)]
                for work, into in order if round_ % 2 == 0 else reversed(order):
                    into.append(_time(work, text) / size * 1e9)
            print(
                f"{name:<12}{size:>8}  "
                f"{min(parsed):>8.1f}/{statistics.median(parsed):>8.1f}/{max(parsed):>8.1f}  "
                f"{statistics.median(raw):>12.1f}"
            )


if __name__ == "__main__":
    main()
