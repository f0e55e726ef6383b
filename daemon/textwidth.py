"""How wide text is on a terminal or in a spreadsheet column: CJK characters are two wide.

At the bottom of the layers: CLI tables, the demo and the archive's spreadsheets all need it.
"""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns a terminal uses: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clip_words(text: str, limit: int) -> str:
    """At most about `limit` characters, cut between words with "…": a cut in the middle
    of a word would leave half an ID (Microsoft's Trace ID), useless to anyone."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return cut.rstrip(" ,;:") + " …"
