"""Text normalisation shared by the quote stripper and the command grammar.

Two flavours exist on purpose:

* ``clean`` keeps what the person typed (full-width characters included) and
  only removes characters nobody can see: BOM, zero-width spaces, soft hyphens,
  and turns no-break spaces into plain spaces. ``new_text`` is built from it.
* ``fold`` additionally applies NFKC so that ``＃３：完成`` and ``#3:完成`` look
  the same to regexes. Matching always happens on folded text.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that are invisible in every mail client but break regexes.
_INVISIBLE = dict.fromkeys(
    map(
        ord, "\ufeff\u200b\u200c\u200d\u200e\u200f\u2060\u00ad\u180e\u202a\u202b\u202c\u202d\u202e"
    ),
    None,
)
_NBSP = dict.fromkeys(map(ord, "\u00a0\u202f\u2007"), " ")
_WS_RUN = re.compile(r"\s+")
_QUOTE_PREFIX = re.compile(r"^(?:\s*>)+")


def clean(text: str) -> str:
    """Drop invisible characters and make no-break spaces ordinary spaces."""
    return text.translate(_INVISIBLE).translate(_NBSP)


def fold(text: str) -> str:
    """``clean`` + NFKC: full-width digits, ``＃``, ``：``, ``，`` become ASCII."""
    return unicodedata.normalize("NFKC", clean(text))


def line_key(line: str) -> str:
    """Comparison key for "is this a line collabd itself sent?".

    Quote markers, all whitespace differences and case are ignored, so
    ``>  #3 完成标准…`` matches the sent line ``#3 完成标准…``.
    """
    folded = _QUOTE_PREFIX.sub("", fold(line))
    return _WS_RUN.sub(" ", folded).strip().casefold()


class Folded:
    r"""A line folded for matching that remembers where each character came from.

    Regexes run on ``text`` (NFKC, each run of blanks one space); notes are cut
    from ``raw`` with ``raw_slice`` so they keep the person's own ``，``, ``：``
    and spacing. One blank where there were many keeps every ``\s*…?\s*`` of
    the grammar linear: with 50,000 blanks between ``#1`` and ``x`` the two
    ``\s*`` split the run every possible way (66 s for 51 KB, quadratic).
    """

    __slots__ = ("_pos", "raw", "text")

    def __init__(self, line: str) -> None:
        self.raw = clean(line)
        parts: list[str] = []
        pos: list[int] = []
        blank = False
        for index, ch in enumerate(self.raw):
            folded = ch if ch.isascii() else unicodedata.normalize("NFKC", ch)
            if folded.isspace():
                if blank:
                    continue
                folded, blank = " ", True
            else:
                blank = False
            parts.append(folded)
            pos.extend([index] * len(folded))
        pos.append(len(self.raw))
        self.text = "".join(parts)
        self._pos = pos

    def raw_slice(self, start: int, end: int) -> str:
        """Original text behind ``text[start:end]``."""
        return self.raw[self._pos[start] : self._pos[end]]
