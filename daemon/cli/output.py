"""Printing for people (aligned tables, CJK-aware) and for programs (--json)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum

from ..textwidth import display_width


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], out=None) -> None:
    out = out or sys.stdout
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        widths = [max(w, display_width(c)) for w, c in zip(widths, row, strict=True)]
    print("  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, Enum):
        return str(value.value)
    text = str(value).replace("\n", " ")
    return text if display_width(text) <= 48 else text[:46] + "…"


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def emit_json(data: object, out=None) -> None:
    json.dump(data, out or sys.stdout, ensure_ascii=False, indent=2, default=_default)
    (out or sys.stdout).write("\n")


def fields(pairs: Sequence[tuple[str, object]], out=None) -> None:
    """`Label: value` lines, labels aligned."""
    width = max(display_width(label) for label, _ in pairs)
    for label, value in pairs:
        print(f"{_pad(label, width)}  {_cell(value) if value is not None else '—'}", file=out)
