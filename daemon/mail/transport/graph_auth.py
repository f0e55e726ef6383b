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
What `collabd status` shows of it — when the token runs out, when Graph last took it, the
last sign-in error — is written to `graph-sign-in.json` in the data directory (0600, never
the token), because status runs in another process and could not see it otherwise.
The secret and the token are never logged or put into an error message.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from .base import SignInFailed

if TYPE_CHECKING:
    from ...store import Database
    from ..oauth import MailboxSignIn, TokenSource
    from .graph import GraphSettings

REFRESH_BEFORE = timedelta(minutes=5)


class MemorySignIn:
    """MailboxSignIn's interface with the token in memory (the SQLite case, see above)."""

    def __init__(self, source: TokenSource, user: str = "", state: Path | None = None) -> None:
        self.source, self.user, self.state = source, user, state
        self._token: str | None = None
        self._expires = datetime.min.replace(tzinfo=UTC)
        self._noted: datetime | None = None

    def token(self) -> str:
        if self._token and self._expires - datetime.now(UTC) > REFRESH_BEFORE:
            return self._token
        return self.renew(self._token or "")

    def renew(self, refused: str) -> str:
        from ..oauth import SignInError

        try:
            grant = self.source.obtain(None)
        except SignInError as exc:
            self.failed(f"no token from {self.source.authority}: {exc}")
            raise
        self._token, self._expires = grant.access_token, grant.expires_at
        self._note(expires_at=grant.expires_at.isoformat())
        return grant.access_token

    def keep(self, grant) -> None:
        """A token fetched by `collabd auth login`: noted like a renewal."""
        self._token, self._expires = grant.access_token, grant.expires_at
        self._note(expires_at=grant.expires_at.isoformat())

    def signed_in(self) -> None:
        """Graph took the token. Noted at most once a minute (every request says so)."""
        now = datetime.now(UTC)
        if self._noted and now - self._noted < timedelta(minutes=1):
            return
        self._noted = now
        self._note(signed_in_at=now.isoformat(), last_error=None, last_error_at=None)

    def failed(self, reason: str) -> None:
        self._noted = None
        self._note(last_error=reason, last_error_at=datetime.now(UTC).isoformat())

    def stored(self) -> SignInState | None:
        return read_state(self.state) if self.state else None

    def _note(self, **values: str | None) -> None:
        if self.state is None:
            return
        facts = {**_read_json(self.state), "user": self.user, **values}
        temporary = self.state.with_name(f".{self.state.name}.partial")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(facts, out)
        os.replace(temporary, self.state)


@dataclass(frozen=True)
class SignInState:
    """What status shows of a sign-in, with the names of the ledger's oauth_tokens row."""

    expires_at: datetime | None
    signed_in_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    access_token: str | None = None  # never written: only whether there is one
    refresh_token: str | None = None


def read_state(path: Path) -> SignInState | None:
    facts = _read_json(path)
    if not facts:
        return None

    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(facts[key]) if facts.get(key) else None

    expires = when("expires_at")
    return SignInState(
        expires,
        when("signed_in_at"),
        facts.get("last_error"),
        when("last_error_at"),
        access_token="(in memory)" if expires else None,
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class GraphToken:
    """A TokenSource (graph_http.py) over a MailboxSignIn."""

    def __init__(self, sign_in: MailboxSignIn | MemorySignIn, section: str = "mail.oauth") -> None:
        self.sign_in, self.section = sign_in, section
        self._last: str | None = None

    def __call__(self, refresh: bool = False) -> str:
        from ..oauth import SignInError

        try:
            if refresh and self._last:
                token = self.sign_in.renew(refused=self._last)
            else:
                token = self.sign_in.token()
        except SignInError as exc:  # recorded in the ledger by the sign-in
            # A sign-in fault (the app, its secret, the CA), not an unreachable mail server;
            # still temporary: the mail stays queued until an admin fixes [mail.oauth].
            raise SignInFailed(
                f"Microsoft Graph sign-in of the app in [{self.section}] failed: {exc}"
            ) from None
        self._last = token
        return token

    def accepted(self) -> None:
        """Graph took the token: the last sign-in error, if any, is history."""
        self.sign_in.signed_in()

    def refused(self, reason: str) -> None:
        self.sign_in.failed(reason)


STATE_FILE = "graph-sign-in.json"


def graph_scope(endpoint: str) -> str:
    """What the client credentials grant asks for Graph: all the app's Graph permissions."""
    return f"{endpoint.rstrip('/')}/.default"


def graph_sign_in(
    settings: GraphSettings, db: Database, data_dir: Path | None = None
) -> GraphToken:
    from ..oauth.microsoft import MicrosoftTokens

    tokens = MicrosoftTokens(
        client_id=settings.client_id,
        tenant_id=settings.tenant_id,
        flow="app",
        client_secret=settings.client_secret,
        authority=settings.authority,  # tenant included (config/graph_app.py)
        scopes=[graph_scope(settings.endpoint)],
        ca_file=settings.ca_file,
        timeout=settings.timeout,
    )
    return GraphToken(graph_sign_in_state(settings, db, data_dir, tokens), settings.app_section)


def graph_sign_in_state(
    settings: GraphSettings, db: Database, data_dir: Path | None, tokens: TokenSource | None
) -> MailboxSignIn | MemorySignIn:
    """The sign-in that keeps Graph's token (`tokens` None: only to read what status shows)."""
    from ..oauth import MailboxSignIn

    if db.dialect != "postgresql":
        state = data_dir / STATE_FILE if data_dir is not None else None
        return MemorySignIn(tokens, settings.user, state)  # type: ignore[arg-type]
    return MailboxSignIn(
        db,
        tokens,  # type: ignore[arg-type]
        # Not the IMAP/SMTP sign-in's row: another resource, maybe another app.
        account=f"microsoft/graph/{settings.client_id}/{settings.user}",
        user=settings.user,
        refresh_before=REFRESH_BEFORE,
    )
