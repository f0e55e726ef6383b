"""The collabd mailbox's OAuth sign-in, shared through the ledger.

The current access token lives in the ledger's `oauth_tokens` row, so every replica uses the
same one and only one of them needs to renew it. A token is renewed before it expires (within
mail.oauth.refresh_before) and after a server refused it; the transport then tries once more
and, if refused again, reports: the row keeps the last sign-in error for `collabd status`.

Token times are real (wall-clock) times: the provider and the servers judge expiry by theirs,
whatever clock collabd runs its rules on (`--at`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update

from ...store import Database
from ...store.models import OAuthToken
from ...store.upsert import dialect_insert
from .grants import Grant, SignInError

log = logging.getLogger(__name__)


class TokenSource(Protocol):
    authority: str

    def obtain(self, refresh_token: str | None) -> Grant: ...


SUCCESS_NOTED_EVERY = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC)


class MailboxSignIn:
    def __init__(
        self,
        db: Database,
        source: TokenSource,
        *,
        account: str,
        user: str,
        mechanism: str = "auto",
        refresh_before: timedelta = timedelta(minutes=5),
    ) -> None:
        self.db, self.source = db, source
        self.account, self.user, self.mechanism = account, user, mechanism
        self.refresh_before = refresh_before
        self._success_noted: datetime | None = None  # see signed_in()

    def token(self) -> str:
        """A token good for at least `refresh_before`: the ledger's, or a new one."""
        row = self.stored()
        if row and row.access_token and row.expires_at - _now() > self.refresh_before:
            return row.access_token
        return self._renew(row)

    def renew(self, refused: str) -> str:
        """A token other than the one a server just refused. Another replica may have
        renewed it meanwhile: then the ledger already holds a newer one."""
        row = self.stored()
        if (
            row
            and row.access_token
            and row.access_token != refused
            and row.expires_at - _now() > self.refresh_before
        ):
            return row.access_token
        return self._renew(row)

    def _renew(self, row: OAuthToken | None) -> str:
        try:
            grant = self.source.obtain(row.refresh_token if row else None)
        except SignInError as exc:
            self.failed(f"no token from {self.source.authority}: {exc}")
            raise
        self.keep(grant)
        log.info("oauth: new access token for %s, valid until %s", self.user, grant.expires_at)
        return grant.access_token

    def keep(self, grant: Grant) -> None:
        """Store a grant (a renewal, or `collabd auth login`)."""
        values = {
            "access_token": grant.access_token,
            "expires_at": grant.expires_at,
            "obtained_at": _now(),
        }
        if grant.refresh_token:
            values["refresh_token"] = grant.refresh_token
        self._write(values)

    def signed_in(self) -> None:
        """A server accepted the token: the last error, if any, is history. Noted at most
        once a minute: the sender signs in to SMTP for every batch."""
        now = _now()
        if self._success_noted and now - self._success_noted < SUCCESS_NOTED_EVERY:
            return
        self._write({"signed_in_at": now, "last_error": None, "last_error_at": None})
        self._success_noted = now

    def failed(self, reason: str) -> None:
        self._success_noted = None
        self._write({"last_error": reason, "last_error_at": _now()})

    def forget(self) -> None:
        """`collabd auth logout`: the tokens go; the next sign-in starts from nothing."""
        self._write({"access_token": None, "expires_at": None, "refresh_token": None})

    def stored(self) -> OAuthToken | None:
        with self.db.transaction() as session:
            row = session.get(OAuthToken, self.account)
            if row is not None:
                session.expunge(row)
            return row

    def _write(self, values: dict) -> None:
        with self.db.transaction() as session:
            insert = dialect_insert(self.db.dialect)
            session.execute(
                insert(OAuthToken).values(account=self.account).on_conflict_do_nothing()
            )
            session.execute(
                update(OAuthToken).where(OAuthToken.account == self.account).values(**values)
            )


def sign_in_rows(db: Database) -> list[OAuthToken]:
    """Every sign-in the ledger knows (for `collabd status`)."""
    with db.transaction() as session:
        rows = list(session.scalars(select(OAuthToken).order_by(OAuthToken.account)))
        session.expunge_all()
        return rows
