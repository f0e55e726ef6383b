"""Measure the reply reader's quote stripper against public reply corpora.

Usage::

    .venv/bin/python bench/reply_corpora.py [--root DIR] [--verbose]

The corpora live outside the project (``../shared/corpora`` next to the repo,
see its README.md) and are only read, never copied. For every corpus with
expected output the script prints how many cases' kept text equals the
reference after whitespace normalisation, and the mean similarity
(``difflib`` ratio, 1.0 = identical). Corpora without expected output on disk
are run as a smoke test (the parser must not raise).

Expected outputs:

* email_reply_trimmer — ``test/trimmed/NAME.txt`` for ``test/emails/NAME.txt``.
* talon — the references live in talon's test code, not in fixture files:
  ``standard_replies/*.eml`` expect ``NAME_reply_text`` when present, else
  "Hello" (tests/text_quotations_test.py); ``html_replies/*.html`` expect
  "Hi. I am fine. Thanks, Alex" (tests/html_quotations_test.py), as do the
  ``OLK_SRC_BODY_SECTION`` ("Reply") and ``reply-separated-by-hr`` ("Hi there")
  probes in the same file.

Known, deliberate differences (collabd must read only what was typed):
email_reply_trimmer keeps ``>`` quotes that precede bottom-posted text and
the body of a mail that *starts* with a forwarded/"wrote:" header; talon keeps
"Sent from my iPhone"/"-- " signatures. This reader drops all of those.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from daemon.mail.reply import decode  # noqa: E402
from daemon.mail.reply.html2text import html_to_text  # noqa: E402
from daemon.mail.reply.parser import extract_new_text, parse_reply  # noqa: E402
from daemon.mail.reply.quotes import strip_history  # noqa: E402

DEFAULT_ROOT = REPO.parent / "shared" / "corpora"
TALON_HTML_REPLY = "Hi. I am fine.\n\nThanks,\nAlex"


@dataclass
class Case:
    name: str
    got: str
    expected: str

    @property
    def matches(self) -> bool:
        return normalize(self.got) == normalize(self.expected)

    @property
    def similarity(self) -> float:
        return difflib.SequenceMatcher(None, normalize(self.got), normalize(self.expected)).ratio()


@dataclass
class Result:
    corpus: str
    cases: list[Case] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return sum(c.matches for c in self.cases)

    @property
    def similarity(self) -> float:
        return sum(c.similarity for c in self.cases) / len(self.cases) if self.cases else 0.0


def normalize(text: str) -> str:
    return " ".join(text.split())


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _from_eml(path: Path) -> str:
    return extract_new_text(decode.load(path.read_bytes()))


def _from_html(path: Path) -> str:
    return strip_history(html_to_text(_read(path)))


def email_reply_trimmer(root: Path) -> Iterator[Case]:
    base = root / "email_reply_trimmer" / "test"
    for email_path in sorted((base / "emails").glob("*.txt")):
        expected = base / "trimmed" / email_path.name
        if expected.exists():
            got = strip_history(_read(email_path).strip())
            yield Case(email_path.stem, got, _read(expected).strip())


def talon(root: Path) -> Iterator[Case]:
    base = root / "talon" / "tests" / "fixtures"
    for eml in sorted((base / "standard_replies").glob("*.eml")):
        reference = eml.with_name(eml.stem + "_reply_text")
        expected = _read(reference).strip() if reference.exists() else "Hello"
        yield Case(f"standard_replies/{eml.stem}", _from_eml(eml), expected)
    for html in sorted((base / "html_replies").glob("*.html")):
        yield Case(f"html_replies/{html.stem}", _from_html(html), TALON_HTML_REPLY)
    probes = {"OLK_SRC_BODY_SECTION.html": "Reply", "reply-separated-by-hr.html": "Hi there"}
    for name, expected in probes.items():
        if (base / name).exists():
            yield Case(name, _from_html(base / name), expected)


CORPORA: dict[str, Callable[[Path], Iterator[Case]]] = {
    "email_reply_trimmer": email_reply_trimmer,
    "talon": talon,
}
# Corpora whose expectations live only in their test code: smoke-tested.
SMOKE = {
    "crisp-email-reply-parser": "test/fixtures",
    "mail-parser-reply": "test/emails",
    "zapier-email-reply-parser": "test/emails",
}


def measure(root: Path = DEFAULT_ROOT) -> dict[str, Result]:
    """Run every corpus with expected output that exists under ``root``."""
    results = {}
    for name, loader in CORPORA.items():
        if (root / name).is_dir():
            results[name] = Result(name, list(loader(root)))
    return results


def smoke(root: Path = DEFAULT_ROOT) -> dict[str, tuple[int, int]]:
    """(files, non-empty results) for corpora without expected output."""
    out = {}
    for name, sub in SMOKE.items():
        folder = root / name / sub
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file())
        non_empty = 0
        for path in files:
            raw = b"Content-Type: text/plain; charset=utf-8\n\n" + path.read_bytes()
            non_empty += bool(parse_reply(raw).new_text)
        out[name] = (len(files), non_empty)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--verbose", "-v", action="store_true", help="show every mismatch")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"corpora not found at {args.root}", file=sys.stderr)
        return 2
    print(f"{'corpus':<28}{'cases':>6}{'match':>7}{'rate':>8}{'similarity':>12}")
    for name, result in measure(args.root).items():
        n = len(result.cases)
        rate = result.matched / n if n else 0.0
        print(f"{name:<28}{n:>6}{result.matched:>7}{rate:>8.1%}{result.similarity:>12.3f}")
        if args.verbose:
            for case in result.cases:
                if not case.matches:
                    print(f"  ✗ {case.name} (similarity {case.similarity:.2f})")
                    print("    got:      " + normalize(case.got)[:160])
                    print("    expected: " + normalize(case.expected)[:160])
    for name, (files, non_empty) in smoke(args.root).items():
        print(
            f"{name:<28}{files:>6}  no expected output on disk; parsed all, {non_empty} non-empty"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
