"""Access tokens for Gmail's IMAP and SMTP, with Google's own library (google-auth).

App: a service account with domain-wide delegation signs a JWT naming the collabd mailbox
as its subject and trades it for a token with scope https://mail.google.com/. Delegated: an
installed (desktop) app's refresh token, handed to `collabd auth login` once and kept in the
ledger.

google-auth is imported only here, and only when a token is needed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .clouds import GOOGLE_SCOPES, GOOGLE_TOKEN_URI
from .grants import Grant, SignInError
from .http import token_http


class GoogleTokens:
    def __init__(
        self,
        *,
        flow: str,
        user: str,
        client_id: str = "",
        client_secret: str = "",
        service_account_file: Path | None = None,
        token_uri: str = "",
        scopes: list[str] | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.flow, self.user, self.client_id = flow, user, client_id
        self._secret = client_secret
        self._key_file = service_account_file
        self.token_uri = token_uri
        self.scopes = list(scopes or GOOGLE_SCOPES)
        self._ca_file = ca_file

    @property
    def authority(self) -> str:
        return self.token_uri or GOOGLE_TOKEN_URI

    def _request(self):
        from google.auth.transport.requests import Request

        return Request(session=token_http(self._ca_file))

    def _credentials(self, refresh_token: str | None):
        if self.flow == "app":
            from google.oauth2 import service_account

            info = json.loads(Path(self._key_file).read_text(encoding="utf-8"))
            if self.token_uri:
                info["token_uri"] = self.token_uri
            # subject: domain-wide delegation acts as the collabd mailbox.
            return service_account.Credentials.from_service_account_info(
                info, scopes=self.scopes, subject=self.user
            )
        if not refresh_token:
            raise SignInError(
                "no refresh token for the mailbox yet: run "
                "`collabd auth login --refresh-token-file FILE`"
            )
        from google.oauth2.credentials import Credentials

        return Credentials(
            None,
            refresh_token=refresh_token,
            token_uri=self.authority,
            client_id=self.client_id,
            client_secret=self._secret,
            scopes=self.scopes,
        )

    def obtain(self, refresh_token: str | None) -> Grant:
        from google.auth.exceptions import RefreshError, TransportError

        credentials = self._credentials(refresh_token)
        try:
            credentials.refresh(self._request())
        except RefreshError as exc:
            raise SignInError(_said(exc)) from None
        except TransportError as exc:
            raise SignInError(f"cannot reach {self.authority}: {exc}") from None
        expiry = credentials.expiry  # naive UTC, as google-auth keeps it
        expires_at = (
            expiry.replace(tzinfo=UTC) if expiry else datetime.now(UTC) + timedelta(hours=1)
        )
        rotated = getattr(credentials, "refresh_token", None)
        return Grant(credentials.token, expires_at, rotated or refresh_token)

    def login(self, refresh_token: str) -> Grant:
        """Check a refresh token by using it once; the grant carries it into the ledger."""
        return self.obtain(refresh_token)


def _said(exc: Exception) -> str:
    """google-auth's RefreshError: ("error: description", response body)."""
    return str(exc.args[0]) if exc.args else exc.__class__.__name__
