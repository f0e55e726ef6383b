"""A Gantt picture of a collaboration's items for the weekly digest (matplotlib, PNG).

Each bar is labelled with its task (`#3 整理客户沟通话术`, shortened to fit) and ends in its
deadline; the date axis has a few evenly spaced ticks, so labels never run into each
other however close the deadlines are. The picture is 630 px wide (the digest's HTML
scales it down on a phone). Chinese text needs a CJK font (Debian `fonts-noto-cjk`); on
a host without one the labels keep only the `#N` and ASCII, never boxes.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from functools import cache

from ..mail.compose import InlineImage
from ..textwidth import display_width

COLOURS = {"red": "#d9534f", "amber": "#f0ad4e", "green": "#5cb85c"}
CONTENT_ID = "gantt@collabd"
LABEL_WIDTH = 24  # display columns of a bar's label (a CJK character is two)
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei")


def gantt_png(rows: list[dict], today: date) -> InlineImage | None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: render to a buffer
        from matplotlib import pyplot
    except ImportError:  # pragma: no cover - matplotlib is a dependency; be robust anyway
        return None
    figure = draw_gantt(rows, today)
    if figure is None:
        return None
    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        pyplot.close(figure)
    return InlineImage(CONTENT_ID, "gantt.png", buffer.getvalue())


def draw_gantt(rows: list[dict], today: date):
    """The matplotlib figure (None without dated items); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

    dated = [r for r in rows if r["deadline"] is not None]
    if not dated:
        return None
    font = _cjk_font()
    with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"] if font else "DejaVu Sans"}):
        figure, axes = pyplot.subplots(figsize=(7, 0.45 * len(dated) + 1.3), dpi=90)
        first = min(min(r["start"], r["deadline"]) for r in dated)
        last = max(max(r["deadline"] for r in dated), today)
        for position, row in enumerate(reversed(dated)):
            start = min(row["start"], row["deadline"])
            length = max((row["deadline"] - start).days, 1)
            axes.barh(position, length, left=_num(start), color=COLOURS[row["rag"]], height=0.6)
        labels = [_label(r["item"], bool(font)) for r in reversed(dated)]
        axes.yaxis.set_major_locator(FixedLocator(range(len(dated))))
        axes.set_yticklabels(labels, fontsize=8)
        axes.axvline(_num(today), color="#333333", linestyle="--", linewidth=1)
        # A handful of evenly spaced date ticks (never one per deadline: those collide).
        axes.set_xlim(_num(first) - 1, _num(last) + 2)
        axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, min_n_ticks=2))
        axes.xaxis.set_major_formatter(
            FuncFormatter(
                lambda value, _: (date(1970, 1, 1) + timedelta(days=int(value))).strftime("%m-%d")
            )
        )
        axes.tick_params(axis="x", labelsize=8)
        axes.grid(axis="x", color="#eeeeee")
        axes.set_axisbelow(True)
        figure.tight_layout()
    return figure


def _label(item, cjk: bool) -> str:
    """'#3 整理客户沟通话术', cut to LABEL_WIDTH columns with '…'; without a CJK font only
    the ASCII of the description is kept (a box per character helps nobody)."""
    description = item.description if cjk else "".join(c for c in item.description if c.isascii())
    text = f"#{item.number} {description}".strip()
    if display_width(text) <= LABEL_WIDTH:
        return text
    cut = ""
    for char in text:
        if display_width(cut + char) > LABEL_WIDTH - 1:
            break
        cut += char
    return cut + "…"


@cache
def _cjk_font() -> str | None:
    from matplotlib import font_manager

    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    if not any(name in installed for name in CJK_FONTS):
        # matplotlib's font cache predates a font installed later (fonts-noto-cjk): add
        # the CJK files it finds on the system once.
        for path in font_manager.findSystemFonts():
            if any(mark in path for mark in ("NotoSansCJK", "NotoSansSC", "wqy")):
                font_manager.fontManager.addfont(path)
        installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _num(day: date) -> int:
    return (day - date(1970, 1, 1)).days
