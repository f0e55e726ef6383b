"""A Gantt picture of a collaboration's items for the weekly digest (matplotlib, PNG)."""

from __future__ import annotations

import io
from datetime import date, timedelta

from ..mail.compose import InlineImage

COLOURS = {"red": "#d9534f", "amber": "#f0ad4e", "green": "#5cb85c"}
CONTENT_ID = "gantt@collabd"


def gantt_png(rows: list[dict], today: date) -> InlineImage | None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: render to a buffer
        from matplotlib import pyplot
    except ImportError:  # pragma: no cover - matplotlib is a dependency; be robust anyway
        return None
    dated = [r for r in rows if r["deadline"] is not None]
    if not dated:
        return None
    figure, axes = pyplot.subplots(figsize=(7, 0.4 * len(dated) + 1.2), dpi=90)
    try:
        for position, row in enumerate(reversed(dated)):
            start = min(row["start"], row["deadline"])
            length = max((row["deadline"] - start).days, 1)
            axes.barh(position, length, left=_num(start), color=COLOURS[row["rag"]], height=0.6)
        axes.set_yticks(range(len(dated)))
        axes.set_yticklabels([f"#{r['item'].number}" for r in reversed(dated)])
        axes.axvline(_num(today), color="#333333", linestyle="--", linewidth=1)
        ticks = sorted({_num(r["deadline"]) for r in dated} | {_num(today)})
        axes.set_xticks(ticks)
        axes.set_xticklabels(
            [(date(1970, 1, 1) + timedelta(days=t)).strftime("%m-%d") for t in ticks],
            rotation=45,
            fontsize=7,
        )
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        pyplot.close(figure)
    return InlineImage(CONTENT_ID, "gantt.png", buffer.getvalue())


def _num(day: date) -> int:
    return (day - date(1970, 1, 1)).days
