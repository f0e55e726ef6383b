"""HTML mail → plain text that keeps the structure the quote stripper needs.

Text clues are unreliable in HTML mail, structure is not: Gmail wraps history
in ``div.gmail_quote``, Apple/Thunderbird/163 in ``blockquote``, Outlook puts
``div#divRplyFwdMsg`` (or a ``border-top`` div holding 发件人/From) before the
history. So instead of converting first and guessing later, this module turns
the structure into two explicit text markers:

* every line inside a quote container is prefixed with ``> `` (per nesting
  level), exactly like a plain-text client would, and
* at a "history starts here" element outside any quote, a line holding only
  ``CUT_MARK`` is emitted and rendering stops.

The quote stripper then treats both like their plain-text equivalents.
Client-inserted signature blocks are dropped. Whitespace follows HTML rules
(runs collapse, ``&nbsp;`` survives), ``<p>``/``<div>``/``<br>`` make lines.
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser

#: Private-use character marking "quoted history starts here" on its own line.
CUT_MARK = "\ue000"

_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "basefont",
        "frame",
        "keygen",
    ]
)
_SKIP = frozenset(
    ["head", "style", "script", "title", "xml", "template", "noscript", "object", "iframe", "svg"]
)
_BLOCK = frozenset(
    [
        "p",
        "div",
        "blockquote",
        "pre",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "center",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "nav",
        "address",
        "form",
        "fieldset",
        "figure",
        "figcaption",
        "main",
        "details",
        "summary",
        "caption",
    ]
)
# Tags whose start implicitly closes an open sibling of the same name.
_SELF_NESTING = frozenset(["p", "li", "tr", "td", "th", "option", "dt", "dd"])
_MAX_DEPTH = 300
_MAX_HTML = 2_000_000

# --- quote containers (content is history, rendered as "> " lines) ----------
# Gmail: div.gmail_quote(_container); Yahoo: div.yahoo_quoted; Thunderbird:
# div.moz-cite-prefix holds the "On … wrote:" line; Apple/Thunderbird/163/
# Coremail use <blockquote> (163: id="isReplyContent", Apple: type="cite").
_QUOTE_CLASSES = re.compile(
    r"\b(?:gmail_quote(?:_container)?|yahoo_quoted|moz-cite-prefix)\b", re.I
)
_QUOTE_IDS = re.compile(r"^(?:isReplyContent|yahoo_quoted.*|reply-?content)$", re.I)

# --- "history starts here" markers (siblings after them are history) -------
# Outlook desktop/OWA/iOS: div#divRplyFwdMsg (x_ prefixed when re-quoted),
# div#appendonsend, hr#stopSpelling (Hotmail), span#OLK_SRC_BODY_SECTION
# (Outlook for Mac), div#mail-editor-reference-message-container (new Outlook),
# div.OutlookMessageHeader; Foxmail/QQ rely on the text marker instead.
_CUT_IDS = re.compile(
    r"^(?:x_)?(?:divRplyFwdMsg|appendonsend|stopSpelling|OLK_SRC_BODY_SECTION"
    r"|mail-editor-reference-message-container|Zm-_Id_-Sgn.*)$",
    re.I,
)
_CUT_CLASSES = re.compile(r"\b(?:OutlookMessageHeader|gmail_forwarded_quote)\b", re.I)
# Outlook desktop's header box: <div style="border:none;border-top:solid #E1E1E1 1.0pt;…">
_BORDER_TOP = re.compile(r"border-top(?:-style)?\s*:\s*[^;]*solid", re.I)
_HEADERISH_START = re.compile(
    r"^\W{0,3}(?:from|发件人|寄件者|寄件人|發件人|von|de|da|van|från|fra|od|от|date|sent|发送时间|日期)\s*[:：]",
    re.I,
)

# --- client signature blocks (never part of the answer) ---------------------
_SIGNATURE_IDS = re.compile(
    r"^(?:x_)?(?:Signature|ms-outlook-mobile-signature|imail_signature|QQMailSignature|ntes-pcmail-signature|ntes-pcmac-signature)$",
    re.I,
)
_SIGNATURE_CLASSES = re.compile(r"\b(?:gmail_signature|moz-signature|x_gmail_signature)\b", re.I)

_HIDDEN = re.compile(r"display\s*:\s*none|mso-hide\s*:\s*all|visibility\s*:\s*hidden", re.I)
_BORDER_NONE = re.compile(r"border\s*:\s*none", re.I)
_SPACES = re.compile(r"[ \t\n\r\f\v]+")  # HTML whitespace; NBSP deliberately absent
# Markup openers html.parser looks ahead from; what closes them (its own `--\s*>`).
_OPENERS = re.compile(r"<!--|<")
_COMMENT_CLOSE = re.compile(r"--\s*>")


class _Node:
    __slots__ = ("attrs", "children", "tag")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[_Node | str] = []


class _TreeBuilder(HTMLParser):
    """Forgiving tag-soup → tree; unknown end tags are ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        node = _Node(tag, {k.lower(): (v or "") for k, v in attrs})
        if tag in _SELF_NESTING and self.stack[-1].tag == tag and len(self.stack) > 1:
            self.stack.pop()
        self.stack[-1].children.append(node)
        if tag not in _VOID and len(self.stack) < _MAX_DEPTH:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        self.stack[-1].children.append(_Node(tag, {k.lower(): (v or "") for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        for pos in range(len(self.stack) - 1, 0, -1):
            if self.stack[pos].tag == tag:
                del self.stack[pos:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data.replace(CUT_MARK, ""))


def _text_of(node: _Node, limit: int = 200) -> str:
    """First ``limit`` characters of a subtree's text (for peeking at headers)."""
    out: list[str] = []
    size = 0
    stack: list[_Node | str] = [node]
    while stack and size < limit:
        cur = stack.pop()
        if isinstance(cur, str):
            out.append(cur)
            size += len(cur)
        elif cur.tag not in _SKIP:
            stack.extend(reversed(cur.children))
    return _SPACES.sub(" ", "".join(out).replace("\xa0", " ")).strip()


class _Renderer:
    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.buf: list[str] = []
        self.depth = 0
        self.pre = 0
        self.stopped = False

    # -- line handling --------------------------------------------------------
    def newline(self) -> None:
        text = "".join(self.buf)
        self.buf = []
        if not self.pre:
            text = text.strip(" ")
        self.lines.append((self.depth, text.replace("\xa0", " ").rstrip()))

    def soft_break(self) -> None:
        """End the current line unless we are already at a line start."""
        if self.buf:
            self.newline()

    def text(self, data: str) -> None:
        if self.pre:
            parts = data.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self.newline()
                self.buf.append(part)
            return
        data = _SPACES.sub(" ", data)
        if not data or (data == " " and (not self.buf or self.buf[-1].endswith(" "))):
            return
        if self.buf and self.buf[-1].endswith(" ") and data.startswith(" "):
            data = data[1:]
        self.buf.append(data)

    # -- classification ---------------------------------------------------------
    @staticmethod
    def _is_quote(node: _Node) -> bool:
        cls, ident = node.attrs.get("class", ""), node.attrs.get("id", "")
        if node.tag == "blockquote":
            # Gmail's "indent" button makes <blockquote style="…border:none…">.
            return not (
                _BORDER_NONE.search(node.attrs.get("style", ""))
                and not cls
                and not ident
                and node.attrs.get("type", "").lower() != "cite"
            )
        return bool(_QUOTE_CLASSES.search(cls) or _QUOTE_IDS.match(ident))

    @staticmethod
    def _is_cut(node: _Node) -> bool:
        if _CUT_IDS.match(node.attrs.get("id", "")) or _CUT_CLASSES.search(
            node.attrs.get("class", "")
        ):
            return True
        if node.tag == "div" and _BORDER_TOP.search(node.attrs.get("style", "")):
            return bool(_HEADERISH_START.match(_text_of(node)))
        return False

    @staticmethod
    def _is_signature(node: _Node) -> bool:
        return bool(
            _SIGNATURE_IDS.match(node.attrs.get("id", ""))
            or _SIGNATURE_CLASSES.search(node.attrs.get("class", ""))
            or "data-signatureblock" in node.attrs
        )

    # -- walk -----------------------------------------------------------------
    def render(self, node: _Node) -> None:
        for child in node.children:
            if self.stopped:
                return
            if isinstance(child, str):
                self.text(child)
                continue
            tag = child.tag
            if tag in _SKIP or _HIDDEN.search(child.attrs.get("style", "")):
                continue
            if self._is_signature(child):
                continue
            if self.depth == 0 and self._is_cut(child):
                self.soft_break()
                self.lines.append((0, CUT_MARK))
                self.stopped = True
                return
            if tag == "br":
                self.newline()
                continue
            if tag in ("td", "th"):
                self.text(" ")
            quote = self._is_quote(child)
            block = tag in _BLOCK or quote
            if block:
                self.soft_break()
            if quote:
                self.depth += 1
            if tag == "pre":
                self.pre += 1
            self.render(child)
            if tag == "pre":
                self.pre -= 1
            if block:
                self.soft_break()
            if quote:
                self.depth -= 1


def defuse(html: str) -> str:
    """Escape every `<` that cannot open complete markup, so html.parser reads in linear time.

    CPython's parser, on a start tag or comment with no end in the rest of the input, scans
    to the end of the input from each such `<` when it closes: `<a ` × 20,000 (60 KB) took
    38 s, `<!--` × 100,000 held ingest 506 s. A `<` after the last `>` opens no tag, a
    `<!--` after the last comment end opens no comment; as `&lt;` they read as the text
    they are, in one pass."""
    last_tag_end = html.rfind(">")
    last_comment_end = -1
    for last_comment_end_match in _COMMENT_CLOSE.finditer(html):
        last_comment_end = last_comment_end_match.start()

    def escape(match: re.Match[str]) -> str:
        at = match.start()
        if at > last_tag_end or (match.group() == "<!--" and at > last_comment_end):
            return "&lt;" + match.group()[1:]
        return match.group()

    return _OPENERS.sub(escape, html)


def html_to_text(html: str) -> str:
    """Render HTML mail as text with ``> `` quote prefixes and ``CUT_MARK``."""
    builder = _TreeBuilder()
    try:
        builder.feed(defuse(html[:_MAX_HTML]))
        builder.close()
    except Exception:
        pass  # keep whatever tree was built before the parser gave up
    renderer = _Renderer()
    with contextlib.suppress(RecursionError):  # depth is capped; belt and braces
        renderer.render(builder.root)
    renderer.soft_break()
    out = []
    for depth, text in renderer.lines:
        out.append(("> " * depth + text).rstrip() if depth else text)
    return "\n".join(out)
