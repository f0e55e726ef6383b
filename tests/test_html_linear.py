"""Outside re-run F2: HTML reply bodies are read in linear time. CPython's html.parser, on a
start tag or comment that never ends, scans to the end of the input from every such `<`:
`<a ` × 20,000 (60 KB) cost 38 CPU-seconds, `<!--` × 100,000 held ingest 506 s.

The work is counted, not timed: the characters html.parser's look-ahead patterns run over
(the start-tag end finder and the comment end finder), which is what grew quadratically."""

from __future__ import annotations

import _markupbase
import html.parser
from email.message import EmailMessage

import pytest

from daemon.mail.reply import parse_reply
from daemon.mail.reply.html2text import html_to_text
from daemon.mail.reply.parser import MAX_HTML_BYTES


class Scanned:
    """A compiled pattern that adds up how far each match / search ran over the input."""

    def __init__(self, pattern, tally: list[int]) -> None:
        self.pattern, self.tally = pattern, tally

    def match(self, string, pos=0, *rest):
        found = self.pattern.match(string, pos, *rest)
        self.tally[0] += (found.end() if found else len(string)) - pos
        return found

    def search(self, string, pos=0, *rest):
        found = self.pattern.search(string, pos, *rest)
        self.tally[0] += (found.end() if found else len(string)) - pos
        return found


@pytest.fixture
def scanned(monkeypatch) -> list[int]:
    tally = [0]
    for module, name in (
        (html.parser, "locatestarttagend_tolerant"),
        (html.parser, "commentclose"),
        (_markupbase, "_commentclose"),
    ):
        monkeypatch.setattr(module, name, Scanned(getattr(module, name), tally))
    return tally


HOSTILE = {
    "unclosed <a": "<a ",
    'unclosed <a href="': '<a href="',
    "unterminated <!--": "<!--",
}


@pytest.mark.parametrize("piece", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_html_costs_work_in_proportion_to_its_size(piece, scanned):
    html = "#1 完成" + piece * (100_000 // len(piece))
    text = html_to_text(html)
    assert text.startswith("#1 完成")  # read, as text, not dropped
    # quadratic was ≈ 100,000² / 6 characters scanned; linear stays within a few passes
    assert scanned[0] <= 4 * len(html)


def test_well_formed_html_still_reads_as_before():
    html = '<div>#1 完成<!-- a comment --></div><a href="x">link</a><blockquote>old</blockquote>'
    assert html_to_text(html) == "#1 完成\nlink\n> old"


def test_a_reply_s_html_is_capped_in_bytes_before_it_is_parsed(scanned):
    message = EmailMessage()
    message["From"] = "li.na@example.com"
    message["Subject"] = "回复：您负责的行动项"
    message.set_content("<p>#1 完成</p>" + "<a " * 400_000, subtype="html")  # 1.2 MB
    parsed = parse_reply(message.as_bytes())
    assert [(c.item, c.status) for c in parsed.commands] == [(1, "done")]
    assert scanned[0] <= 4 * MAX_HTML_BYTES
