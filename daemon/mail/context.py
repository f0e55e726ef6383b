"""What the mail mechanics need from the application, as a protocol.

`daemon.app.App` satisfies it; mail code depends on this shape, never on `App` itself, so
the mail layer stays below everything that wires it together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import Settings
    from ..store import Database
    from .render import Renderer
    from .tokens import MailIdentity, ReplyTokens


class MailApp(Protocol):
    settings: Settings
    clock: Clock

    @property
    def db(self) -> Database: ...

    @property
    def renderer(self) -> Renderer: ...

    @property
    def tokens(self) -> ReplyTokens: ...

    @property
    def identity(self) -> MailIdentity: ...
