"""Issue 19: `collabd export` and `collabd items import` of a 跟进台账 of 1,000 and 10,000 items.

Usage::

    .venv/bin/python bench/import_export.py [--rounds 5] [--sizes 1000 10000] [--db URL]

The ledger is the round-trip test's (every column filled, dependencies, acceptance states,
multi-line cells), imported once from csv and exported once as xlsx: that workbook is "the
same sheet". Each round then times, through the real command line (in-process, as the tests
run it), `export --format xlsx` of the items and `items import` of the workbook into a fresh
collaboration (kept: imported acceptance records make it one `collab delete` refuses, so the
ledger grows by one sheet a round; items are numbered per collaboration), each beside its
raw baseline on the same sheet: openpyxl saving those rows (write-only) and loading them
(read-only, every cell read). Rounds alternate collabd and raw. Printed: min / median / max
seconds, the ratio of the medians, the commit and the machine's load.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.conditions import conditions, spread, table  # noqa: E402
from daemon.cli.main import main as collabd  # noqa: E402
from tests.test_items_import import _ledger_csv  # noqa: E402  (the round-trip test's ledger)

DEMO = REPO / "daemon" / "demo"
AT = "2026-11-23T09:00"


class Ledger:
    """A scratch collabd (its own config, data folder and ledger) driven by its CLI."""

    def __init__(self, folder: Path, db_url: str) -> None:
        self.config = folder / "collabd.toml"
        self.config.write_text(
            f'[daemon]\ndata_dir = "{folder / "data"}"\ntimezone = "Asia/Shanghai"\n\n'
            f'[store]\nurl = "{db_url}"\n\n'
            '[mail]\nbackend = "maildir"\naddress = "collabd@example.com"\n',
            encoding="utf-8",
        )

    def run(self, *argv: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = collabd(["--config", str(self.config), "--at", AT, *argv])
        if code:
            raise SystemExit(f"collabd {' '.join(argv)} exited {code}: {err.getvalue()}")
        return out.getvalue()

    def collaboration(self, code: str) -> None:
        self.run(
            "collab", "create", "--code", code, "--theme", f"台账 {code}", "--initiator",
            "张伟", "--coordinator", "陈静", "--participant", "市场部:李娜",
            "--participant", "销售部:王强", "--participant", "客服部:赵敏",
        )  # fmt: skip


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _raw_rows(path: Path) -> list[list[object]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return rows


def _raw_save(rows: list[list[object]], path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("跟进台账")
    for row in rows:
        sheet.append(row)
    book.save(path)


def measure(folder: Path, db_url: str, size: int, rounds: int) -> list[list[str]]:
    ledger = Ledger(folder, db_url)
    ledger.run("people", "import", str(DEMO / "people.csv"))
    ledger.collaboration("source")
    source = folder / "source.csv"
    _ledger_csv(source, size)
    ledger.run("items", "import", "source", str(source))
    sheet = folder / "ledger.xlsx"
    ledger.run("export", "--format", "xlsx", "--collab", "source", "--out", str(sheet))
    rows = _raw_rows(sheet)
    exported = str(folder / "out.xlsx")  # rewritten each round

    times: dict[str, list[float]] = {"export": [], "raw save": [], "import": [], "raw load": []}
    for round_ in range(rounds):
        code = f"round{round_}"
        ledger.collaboration(code)
        jobs = [
            (
                "export",
                lambda: ledger.run(
                    "export", "--format", "xlsx", "--out", exported, "--collab", "source"
                ),
            ),
            ("raw save", lambda: _raw_save(rows, folder / "raw.xlsx")),
            ("import", lambda code=code: ledger.run("items", "import", code, str(sheet))),
            ("raw load", lambda: _raw_rows(sheet)),
        ]
        # alternate which side goes first, so the machine's drift hits both alike
        for name, work in jobs if round_ % 2 == 0 else [jobs[i] for i in (1, 0, 3, 2)]:
            times[name].append(_timed(work))

    def ratio(ours: str, raw: str) -> str:
        return f"{statistics.median(times[ours]) / statistics.median(times[raw]):.1f}×"

    return [
        [f"{size:,}", "export xlsx", spread(times["export"]), spread(times["raw save"]),
         ratio("export", "raw save")],
        [f"{size:,}", "items import", spread(times["import"]), spread(times["raw load"]),
         ratio("import", "raw load")],
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--db", help="ledger URL (default: a fresh SQLite file per size)")
    args = parser.parse_args()
    print(f"before: {conditions()}")
    rows: list[list[str]] = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="collabd-bench-") as tmp:
            folder = Path(tmp)
            url = args.db or f"sqlite:///{folder / 'collabd.sqlite3'}"
            rows += measure(folder, url, size, args.rounds)
    print(
        table(
            ["items", "command", "collabd s (min / median / max)", "raw openpyxl s", "ratio"],
            rows,
        )
    )
    print(f"after: {conditions()}")


if __name__ == "__main__":
    main()
