"""Every mail the demo sends, rendered in both languages: for the template check
(tests/test_mail_wording.py) and the screenshots in docs/images (tools/render_mail_pictures.py).

The demo runs a whole collaboration on real data (SQLite, Maildir, simulated clock). While
it runs, each mail collabd renders is rendered a second time in the other locale, with the
very same context (the ORM objects are still live then), so both languages are checked on
the same facts.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..mail.render import RenderedMail, Renderer
from ..store.models import Locale
from .run import Demo


@dataclass(frozen=True)
class Rendered:
    kind: str
    locale: str
    mail: RenderedMail
    # False for the copy rendered in the other locale: its context may hold words already
    # put in the first reader's language (a rule's reason), which no real mail mixes.
    sent: bool = True


@contextlib.contextmanager
def recording() -> Iterator[list[Rendered]]:
    """Every render inside the block, in both locales."""
    seen: list[Rendered] = []
    original = Renderer.render

    def render(self, name: str, locale: str, **context: object) -> RenderedMail:
        mail = original(self, name, locale, **context)
        for other in Locale:
            other_mail = mail if other == locale else original(self, name, other, **context)
            seen.append(Rendered(name, str(other), other_mail, other == locale))
        return mail

    Renderer.render = render  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        Renderer.render = original  # type: ignore[method-assign]


def demo_mails(directory: Path) -> list[Rendered]:
    """Run the demo in `directory` (empty or new) and return every mail it rendered."""
    directory.mkdir(parents=True, exist_ok=True)
    # The tour's commands print what a person at the terminal would see: not wanted here.
    with recording() as seen, contextlib.redirect_stdout(io.StringIO()):
        Demo(directory, out=lambda _line: None).run()
    return seen
