"""``parse_reply``: raw mail in, ``ParsedReply`` out. Pure and total.

Pipeline: MIME decode (``decode``) → HTML to marked-up text when only HTML
exists (``html2text``) → keep the typed text (``quotes``) → forget lines
collabd itself sent (``sent_lines``) → auto-reply check (``autoreply``) →
commands/verdicts (``grammar``). Every stage is guarded: a malformed mail
degrades to an empty result, never an exception.
"""

from __future__ import annotations

import datetime
import email.message
import logging
from collections.abc import Iterable

from ..invited import is_declared_answer
from . import autoreply, decode, edits, grammar, quotes
from .html2text import CUT_MARK, html_to_text
from .model import ParsedReply
from .normalize import line_key

log = logging.getLogger(__name__)


def _sent_keys(sent_lines: Iterable[str]) -> set[str]:
    keys: set[str] = set()
    for chunk in sent_lines or ():
        for line in str(chunk).splitlines():
            key = line_key(line)
            if key:
                keys.add(key)
    return keys


def drop_echo(text: str, sent_lines: Iterable[str]) -> str:
    """Remove lines of collabd's own mail that survived quote stripping.

    A reply line equal to a sent line (ignoring quote markers, whitespace and
    case) is ignored — with one guard: the mail's *example* answers (``#3 完成``,
    a bare ``完成``, ``进行中 80%``, ``确认``, and every answer a mail declares in
    daemon/mail/invited.py: ``通过``, ``同意``) are exactly what people type, so an
    answer line is only treated as echo once the echo has visibly started, i.e.
    after the first matching line that is not an answer (the greeting, an item title).
    Lines above that point that merely coincide with an example are kept.
    """
    keys = _sent_keys(sent_lines)
    if not keys:
        return text
    kept: list[str] = []
    echo_started = False
    for line in text.split("\n"):
        key = line_key(line)
        echoed = key in keys
        answer = echoed and (grammar.is_answer(line) or is_declared_answer(key))
        if echoed and (echo_started or not answer):
            echo_started = True
            continue
        kept.append(line)
    return quotes.tidy(kept)


def extract_new_text(msg: email.message.Message, sent_lines: Iterable[str] = ()) -> str:
    """The text the person typed in ``msg`` (no history, signature, echo)."""
    body, is_html = decode.best_body(msg)
    if is_html:
        # Capped before the HTML is parsed, not after: the typed text comes first, and the
        # cap after conversion came too late to bound the parser's work.
        body = body.encode()[:MAX_HTML_BYTES].decode(errors="ignore")
    text = html_to_text(body) if is_html else body.replace(CUT_MARK, "")
    return drop_echo(quotes.strip_history(text), sent_lines)


# An HTML reply's markup read at most: Outlook's <head> styles alone can be 30 KB, so four
# times the typed-text cap leaves room for them and for 50,000 typed characters.
MAX_HTML_BYTES = 200_000
MAX_TYPED_CHARS = 50_000  # the typed text read for commands; nobody types more as a reply
MAX_LINE_CHARS = 4_000  # per line: past twice the longest note (2,000) a line is cut


def bounded(text: str) -> str:
    """The typed text as the grammar reads it: at most MAX_TYPED_CHARS, lines cut at
    MAX_LINE_CHARS, so a stranger's megabyte costs what 50 KB costs."""
    return "\n".join(line[:MAX_LINE_CHARS] for line in text[:MAX_TYPED_CHARS].split("\n"))


def parse_reply(
    raw: bytes | email.message.EmailMessage,
    *,
    sent_lines: Iterable[str] = (),
    today: datetime.date | None = None,
) -> ParsedReply:
    """Read one reply mail. See the package docstring for the contract."""
    try:
        return _parse(raw, sent_lines, today)
    except Exception:  # the contract is "never raises"; log for the operator
        log.exception("reply parser failed; returning an empty result")
        return ParsedReply()


def _parse(raw, sent_lines, today) -> ParsedReply:
    msg = decode.load(raw)
    new_text = extract_new_text(msg, sent_lines)
    if autoreply.headers_say_auto(msg):
        return ParsedReply(auto_reply=True, new_text=new_text)
    # Year-less dates are relative to when the reply was written; the wall
    # clock is only the last resort when neither Date nor ``today`` is known.
    ref = decode.mail_date(msg) or today or datetime.date.today()
    # The coordinator's commands first: their lines never reach the status grammar.
    changes, rest = edits.parse(bounded(new_text), ref)
    found = grammar.parse(rest, ref)
    said = changes or found.commands or found.acceptance or found.minutes or found.errors
    said = said or found.on_track
    return ParsedReply(
        auto_reply=not said and autoreply.auto_reply_subject(msg),
        commands=found.commands,
        minutes=found.minutes,
        acceptance=found.acceptance,
        new_text=new_text,
        errors=found.errors,
        edits=changes,
        on_track=found.on_track,
        on_track_note=found.on_track_note,
        ack=found.ack,
    )
