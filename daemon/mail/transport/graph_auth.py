"""The app's bearer token for Microsoft Graph, from the mailbox's OAuth sign-in (mail/oauth):
Microsoft's msal with the client credentials grant, scope `<Graph endpoint>/.default`.

On PostgreSQL the token is kept in the ledger like the IMAP/SMTP one (so replicas share
it, and `collabd status` shows its expiry and the last sign-in error), renewed before it runs
out and, when Graph answers 401, renewed once more (graph_http.py asks with `refresh=True`).

On SQLite it is kept in the process's memory instead. Graph is also called from inside
ledger transactions (a meeting written to the calendar in the same transaction as its
scheduling, an answer read while its mail is applied), and SQLite has one writer at a time:
a sign-in that read or wrote the ledger there would wait for its own caller. SQLite is the
single-host setup (replicas need PostgreSQL), so there is nobody to share the token with.
The secret and the token are never logged or put into an error message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .base import TemporaryFailure

if TYPE_CHECKING:
    from ...store import Database
    from ..oauth import MailboxSignIn, TokenSource
    from .graph import GraphSettings

REFRESH_BEFORE = timedelta(minutes=5)


class MemorySignIn:
    """MailboxSignIn's interface with the token in memory (the SQLite case, see above)."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source
        self._token: str | None = None
        self._expires = datetime.min.replace(tzinfo=UTC)

    def token(self) -> str:
        if self._token and self._expires - datetime.now(UTC) > REFRESH_BEFORE:
            return self._token
        return self.renew(self._token or "")

    def renew(self, refused: str) -> str:
        grant = self.source.obtain(None)
        self._token, self._expires = grant.access_token, grant.expires_at
        return grant.access_token

    def signed_in(self) -> None:
        pass

    def failed(self, reason: str) -> None:
        pass


class GraphToken:
    """A TokenSource (graph_http.py) over a MailboxSignIn."""

    def __init__(self, sign_in: MailboxSignIn | MemorySignIn) -> None:
        self.sign_in = sign_in
        self._last: str | None = None

    def __call__(self, refresh: bool = False) -> str:
        from ..oauth import SignInError

        try:
            if refresh and self._last:
                token = self.sign_in.renew(refused=self._last)
            else:
                token = self.sign_in.token()
        except SignInError as exc:  # recorded in the ledger by the sign-in
            raise TemporaryFailure(
                f"Microsoft sign-in refused the app of [mail.graph]: {exc}"
            ) from None
        self._last = token
        return token

    def accepted(self) -> None:
        """Graph took the token: the last sign-in error, if any, is history."""
        self.sign_in.signed_in()

    def refused(self, reason: str) -> None:
        self.sign_in.failed(reason)


def graph_sign_in(settings: GraphSettings, db: Database) -> GraphToken:
    from ..oauth import MailboxSignIn
    from ..oauth.microsoft import MicrosoftTokens

    tokens = MicrosoftTokens(
        client_id=settings.client_id,
        tenant_id=settings.tenant_id,
        flow="app",
        client_secret=settings.client_secret,
        authority=f"{settings.authority.rstrip('/')}/{settings.tenant_id}",
        scopes=[f"{settings.endpoint.rstrip('/')}/.default"],
        timeout=settings.timeout,
    )
    if db.dialect != "postgresql":
        return GraphToken(MemorySignIn(tokens))
    return GraphToken(
        MailboxSignIn(
            db,
            tokens,
            # Not the IMAP/SMTP sign-in's row: another resource, maybe another app.
            account=f"microsoft/graph/{settings.client_id}/{settings.user}",
            user=settings.user,
            refresh_before=REFRESH_BEFORE,
        )
    )
