"""The application object: settings, ledger, clock, renderer and transport, wired once.

Every command and every worker takes an App, so a test or the demo can swap the clock or the
data directory and run exactly the production code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from .clock import Clock
from .config import Settings
from .mail.tokens import MailIdentity, ReplyTokens
from .store.private import private_directory

if TYPE_CHECKING:  # imported when first used: a command that only reads the ledger (`items
    # list`) does not pay for the mail templates or the IMAP/Exchange/Graph clients
    from .mail.render import Renderer
    from .mail.transport import Transport
    from .store import Database

T = TypeVar("T")


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def ledger(self) -> Database:
        """The ledger, open and at the schema this collabd needs: all that a command which
        only reads it through SQL (`items list`) asks for, without the ORM's models."""
        from .store import Database

        private_directory(self.settings.data_dir)
        database = Database(self.settings.store_url)
        database.ensure_schema()
        return database

    @cached_property
    def db(self) -> Database:
        """The ledger for units of work (the ORM), its shared secrets read."""
        from .store.secrets import ledger_secret

        database = self.ledger
        # Read shared secrets now, outside any transaction: they are first needed inside a
        # write transaction, and SQLite would make a second writer wait for the first.
        self._reply_secret = ledger_secret(database, "reply-token")
        return database

    @cached_property
    def renderer(self) -> Renderer:
        from .mail.render import Renderer

        return Renderer(self.settings.tz)

    @cached_property
    def tokens(self) -> ReplyTokens:
        self.db  # noqa: B018 - opening the ledger loads the secret
        mail = self.settings.mail
        return ReplyTokens(
            self._reply_secret, mail.address, mail.reply_token_lifetime.as_timedelta()
        )

    @cached_property
    def identity(self) -> MailIdentity:
        mail = self.settings.mail
        return MailIdentity(mail.display_name, mail.address, self.tokens)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """Something built once per App from its settings (the rules file, say) by a package
        above this one: the App holds it without importing that package."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def remember(self, key: str, value: T) -> T:
        """Replace what `memo` holds for `key` (rules validated for a SIGHUP reload)."""
        self._memo[key] = value
        return value

    @cached_property
    def transport(self) -> Transport:
        from .mail.transport import open_transport

        mail = self.settings.mail
        if mail.oauth.provider or mail.backend == "graph":  # their tokens live in the ledger
            return open_transport(self.settings, self.db)
        return open_transport(self.settings)

    def close(self) -> None:
        if "transport" in self.__dict__:
            self.transport.close()
        if "ledger" in self.__dict__:
            self.ledger.dispose()
