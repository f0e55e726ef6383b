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
from .http import is_tls_failure, tls_failure, token_http

SERVICE_KEY_DAMAGED = (
    "private_key is not a readable PEM key (damaged or cut while copying?): download a "
    "new JSON key for the service account"
)


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
        """The token endpoint really used: mail.oauth.token_uri, else (service account) the
        key file's token_uri, else Google's."""
        if self.token_uri:
            return self.token_uri
        if self.flow == "app" and self._key_file is not None:
            try:
                info = json.loads(Path(self._key_file).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                info = None
            if isinstance(info, dict) and isinstance(info.get("token_uri"), str):
                return info["token_uri"]
        return GOOGLE_TOKEN_URI

    def _request(self):
        from google.auth.transport.requests import Request

        return Request(session=token_http(self._ca_file))

    def _credentials(self, refresh_token: str | None):
        if self.flow == "app":
            from google.oauth2 import service_account

            where = f"mail.oauth.service_account_file {self._key_file}"
            try:
                info = json.loads(Path(self._key_file).read_text(encoding="utf-8"))
                if self.token_uri:
                    info["token_uri"] = self.token_uri
                # subject: domain-wide delegation acts as the collabd mailbox.
                return service_account.Credentials.from_service_account_info(
                    info, scopes=self.scopes, subject=self.user
                )
            except OSError as exc:
                raise SignInError(f"{where}: cannot read it: {exc.strerror}") from None
            except Exception:  # each key backend has its own errors
                # Never the library's text: it may quote the key. A damaged key (cut while
                # copying) is the usual cause; the fix is a fresh key file.
                raise SignInError(f"{where}: {SERVICE_KEY_DAMAGED}") from None
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
            if is_tls_failure(exc):
                raise SignInError(tls_failure(self.authority, exc)) from None
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
