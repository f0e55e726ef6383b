"""Keep what the person typed; drop quoted history, signatures, boilerplate.

Input is plain text (either a text/plain part or ``html2text`` output, whose
quote containers already carry ``> `` prefixes and whose "history starts here"
point is a ``CUT_MARK`` line). The algorithm, line by line:

1. A *hard boundary* ends the reply: ``CUT_MARK``, a separator such as
   ``-----原始邮件-----`` / ``---------- Forwarded message ---------`` / the
   Outlook underscore rule, or a header block (发件人/发送时间/收件人/主题,
   寄件者/寄件日期/收件者/主旨, From/Sent/To/Subject, …).
2. An *attribution* (``On … wrote:``, ``… 于2026年11月20日周五 09:00写道：``,
   possibly wrapped over several lines) is *soft* when a ``>`` quote follows
   it (top- or bottom-posting in a quoting client: drop it, keep reading) and
   *hard* otherwise (clients like 163 that quote without markers: stop).
3. ``>`` lines are dropped wherever they are. Text after a quote is kept:
   that is how Thunderbird bottom-posters and interleaved answers write.
4. A signature or disclaimer start (``-- ``, ``发自我的iPhone``, ``Sent from
   my iPhone``, ``本邮件含有保密信息``…) drops lines until the next quote.

A bare ``----------`` typed by the person is not a boundary (only the known
separators are), and nothing above a boundary is ever dropped except by the
signature rule.
"""

from __future__ import annotations

from . import patterns as P
from .html2text import CUT_MARK
from .normalize import clean, fold

_MAX_LINES = 20_000
_MAX_ATTRIBUTION_LINES = 6
_HEADER_WINDOW = 8
_TERMINAL_PUNCT = tuple(".。!！?？")


def _header_kind(line: str) -> str | None:
    for kind, pattern in P.HEADER_LINE.items():
        if pattern.match(line):
            return kind
    return None


def _is_header_block(norm: list[str], start: int) -> bool:
    """Does an Outlook-style 发件人/From header block start at ``start``?"""
    first = _header_kind(norm[start])
    if first is None:
        return False
    if first == "from" and len(P.INLINE_HEADER_KEYS.findall(norm[start])) >= 2:
        return True  # "From: a Sent: b To: c Subject: d" on one line
    kinds = {first}
    gap = 0
    for line in norm[start + 1 : start + _HEADER_WINDOW]:
        if not line:
            break
        kind = _header_kind(line)
        if kind is None:
            gap += 1  # a wrapped address list
            if gap > 2:
                break
            continue
        gap = 0
        kinds.add(kind)
    return len(kinds) >= 3 or (len(kinds) >= 2 and "from" in kinds)


def _is_separator(line: str) -> bool:
    return line == CUT_MARK or any(p.match(line) for p in P.SEPARATORS.values())


def _looks_like_attribution(text: str) -> bool:
    """Is ``text`` (one or several joined lines) an "On … wrote:" line?"""
    if len(text) > 400:
        return False
    text = text.strip(" -*")
    evidence = bool(P.EMAIL.search(text) or P.TIME.search(text) or P.YEAR.search(text))
    if P.WROTE_WORDS.search(text) and evidence and P.ATTRIBUTION_END.search(text):
        return True
    if text.endswith(":") and P.TIME.search(text) and P.ANGLE_EMAIL.search(text):
        return True  # mail.ru / Yandex / Gmail ja: "20.11.2026, 09:00, "x" <x@y>:"
    m = P.DATE_FIRST.match(text)
    return bool(m and (m.group("gmt") or P.ANGLE_EMAIL.search(text)))


def _may_end_attribution(line: str) -> bool:
    stripped = line.rstrip(" -*")
    return bool(stripped) and (
        stripped.endswith(":")
        or P.ATTRIBUTION_END.search(stripped) is not None
        or P.DATE_FIRST.match(stripped) is not None
    )


def _is_quoted_fragment(line: str) -> bool:
    """A ``>`` line that is really the tail of a wrapped attribution.

    Gmail via Outlook wraps "<x@y>" so that its closing bracket starts a
    line: "> wrote:" or ">:". Any other quoted line is ordinary quoted text.
    """
    rest = line.lstrip("> ")
    return rest in ("", ":") or bool(P.ATTRIBUTION_FRAGMENT.match(rest))


def _find_attributions(norm: list[str]) -> dict[int, int]:
    """Map first line → last line of every attribution, shortest match first."""
    found: dict[int, int] = {}
    covered = -1
    for end, line in enumerate(norm):
        if not line or len(line) > 400 or not _may_end_attribution(line):
            continue
        start = None
        for first in range(end, max(covered, end - _MAX_ATTRIBUTION_LINES), -1):
            if not norm[first]:
                break
            if P.QUOTED.match(norm[first]):
                if first != end or not _is_quoted_fragment(norm[first]):
                    break  # quoted text belongs to the quote
                continue  # "> wrote:" / ">:" may close a wrapped attribution
            pieces = norm[first : end + 1]
            pieces[-1] = pieces[-1].lstrip("> ") if len(pieces) > 1 else pieces[-1]
            if _looks_like_attribution(" ".join(pieces)):
                start = first
                break
        if start is None:
            continue
        start = _extend_upwards(norm, start, end, covered)
        found[start] = end
        covered = end
    return found


def _extend_upwards(norm: list[str], start: int, end: int, covered: int) -> int:
    """Glue wrapped pieces ("collabd <c@x>" + "于2026年…写道：") to the match."""
    while end - start < _MAX_ATTRIBUTION_LINES:
        cur = norm[start]
        prev = start - 1
        skipped_blank = False
        if prev > covered and not norm[prev] and cur.startswith("<"):
            prev -= 1  # Gmail-through-Outlook: "On … Some One", "", "<", "mailto:…"
            skipped_blank = True
        if prev <= covered or not norm[prev] or P.QUOTED.match(norm[prev]) or len(norm[prev]) > 200:
            break
        above = norm[prev]
        if skipped_blank:
            ok = bool(P.ATTRIBUTION_OPENER.match(above)) and not above.endswith(_TERMINAL_PUNCT)
        else:
            ok = bool(P.ATTRIBUTION_FRAGMENT.match(cur)) or above.endswith(("<", '"'))
        if not ok:
            break
        start = prev
    return start


def _next_nonblank(norm: list[str], index: int) -> str | None:
    for line in norm[index:]:
        if line:
            return line
    return None


def is_signature_start(line: str) -> bool:
    """A folded, stripped line that starts a signature or a disclaimer."""
    return any(p.match(line) for p in P.SIGNATURES.values()) or bool(P.DISCLAIMERS.match(line))


def contact_block_start(lines: list[str]) -> int:
    """Where a closing name/title/phone block starts (``len(lines)`` when there is none).

    Only the last paragraph is looked at, and only when it is a few (2-6) short lines, none
    of them a command or a heading, one of them a phone, mail address or link: a name and
    a way to reach them. A single line ("<a@b>: mailbox full") is text."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and lines[start - 1].strip():
        start -= 1
    block = [fold(line).strip() for line in lines[start:end]]
    if not 2 <= len(block) <= P.CONTACT_BLOCK_MAX_LINES or start == 0:
        return len(lines)  # the whole text is never a signature
    if any(len(line) > P.CONTACT_BLOCK_MAX_CHARS or line[:1] in "#【[" for line in block):
        return len(lines)
    if not any(P.CONTACT_LINE.search(line) for line in block):
        return len(lines)
    return start


def tidy(lines: list[str]) -> str:
    """Strip, squeeze blank runs, drop trailing rule-only lines ("***", "----")."""
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    while out and (not out[-1].strip() or P.RULE_ONLY.match(out[-1])):
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(out)


def strip_history(text: str, *, signatures: bool = True) -> str:
    """Return only the new text of a reply body (see module docstring).

    `signatures=False` keeps signature-looking lines: minutes (daemon/minutes) are long free
    text where "使用企业微信群同步" is content, so that reader trims signatures itself."""
    raw_lines = clean(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")[:_MAX_LINES]
    norm = [fold(line).strip() for line in raw_lines]
    attributions = _find_attributions(norm)
    kept: list[str] = []
    in_signature = False
    i = 0
    while i < len(norm):
        line = norm[i]
        if i in attributions:
            end = attributions[i]
            following = _next_nonblank(norm, end + 1)
            if following is None or P.QUOTED.match(following):
                i = end + 1  # soft: the quote itself is dropped below
                continue
            break  # hard: unmarked history follows
        if P.QUOTED.match(line):
            in_signature = False
            i += 1
            continue
        if _is_separator(line) or _is_header_block(norm, i):
            break
        if in_signature or P.NOISE.match(line):
            i += 1
            continue
        if signatures and is_signature_start(line):
            in_signature = True
            i += 1
            continue
        kept.append(raw_lines[i])
        i += 1
    if signatures:
        kept = kept[: contact_block_start(kept)]
    return tidy(kept)
