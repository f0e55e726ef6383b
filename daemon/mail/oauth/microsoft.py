"""Access tokens from the Microsoft identity platform, with Microsoft's own library (msal).

App-only: the client credentials grant, scope `<Exchange Online>/.default`, for an app that
Exchange Online knows as a service principal with permission on the collabd mailbox.
Delegated: a person signs in once with the device code flow (`collabd auth login`); the
refresh token is kept in the ledger and traded for access tokens from then on.

msal is imported only here, and only when a token is needed, so a collabd that signs in with
a password never loads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .clouds import CLOUDS
from .grants import Grant, SignInError
from .http import is_tls_failure, tls_failure, token_http


class MicrosoftTokens:
    def __init__(
        self,
        *,
        client_id: str,
        tenant_id: str,
        flow: str,
        cloud: str = "global",
        client_secret: str = "",
        authority: str = "",
        scopes: list[str] | None = None,
        ca_file: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        preset = CLOUDS[cloud]
        self.flow, self.client_id = flow, client_id
        self._secret = client_secret
        self.authority = authority or preset.authority(tenant_id)
        # An authority outside Microsoft's well-known hosts (a proxy, a test server) is
        # taken as given: msal would otherwise ask login.microsoftonline.com about it.
        self._custom = bool(authority) and not authority.startswith(
            tuple(f"https://{c.login_host}/" for c in CLOUDS.values())
        )
        self.scopes = list(scopes or preset.scopes(flow))
        self._ca_file, self._timeout = ca_file, timeout

    def _application(self):
        """A fresh msal application per token: collabd keeps its tokens in the ledger, and
        msal's own cache would hand back the very token a server has just refused."""
        import msal

        # msal's debug log carries request details; collabd's logs must never hold a token.
        logging.getLogger("msal").setLevel(logging.WARNING)
        options = {
            "authority": self.authority,
            "http_client": token_http(self._ca_file, self._timeout),
            "validate_authority": not self._custom,
            "instance_discovery": False if self._custom else None,
        }
        try:
            if self.flow == "app":
                return msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self._secret, **options
                )
            return msal.PublicClientApplication(self.client_id, **options)
        except ValueError as exc:  # msal's word for "authority unreachable or unknown"
            if is_tls_failure(exc):
                raise self._unreachable(exc) from None
            raise SignInError(f"{self.authority}: {exc}") from None
        except OSError as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: BaseException) -> SignInError:
        if is_tls_failure(exc):
            return SignInError(tls_failure(self.authority, exc))
        return SignInError(f"cannot reach {self.authority}: {exc}")

    def obtain(self, refresh_token: str | None) -> Grant:
        app = self._application()
        try:
            if self.flow == "app":
                result = app.acquire_token_for_client(scopes=self.scopes)
            elif not refresh_token:
                raise SignInError(
                    "nobody has signed in for the mailbox yet: run `collabd auth login`"
                )
            else:
                result = app.acquire_token_by_refresh_token(refresh_token, scopes=self.scopes)
        except OSError as exc:
            raise self._unreachable(exc) from None
        return _grant(result, refresh_token)

    def login(self, say: Callable[[str], None]) -> Grant:
        """Device code sign-in: tell the person where to go and which code to type, then wait
        until they have signed in (or the code runs out)."""
        if self.flow != "delegated":
            raise SignInError('`collabd auth login` is for flow = "delegated"')
        app = self._application()
        try:
            flow = app.initiate_device_flow(scopes=self.scopes)
            if "user_code" not in flow:
                raise SignInError(_said(flow))
            say(flow["message"])
            minutes = max(1, int(flow.get("expires_in") or 900) // 60)
            say(
                f"The code is good for {minutes} minutes. This command waits until the "
                "sign-in is done (Ctrl+C stops it)."
            )
            result = app.acquire_token_by_device_flow(flow)
        except OSError as exc:
            raise self._unreachable(exc) from None
        return _grant(result, None)


def _grant(result: dict, refresh_token: str | None) -> Grant:
    if "access_token" not in result:
        raise SignInError(_said(result))
    lifetime = int(result.get("expires_in") or 3600)
    return Grant(
        access_token=result["access_token"],
        expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
        refresh_token=result.get("refresh_token") or refresh_token,
        account=_account(result.get("id_token_claims") or {}),
    )


def _account(claims: dict) -> str:
    """The account that signed in, as Entra names it in the id token."""
    for claim in ("preferred_username", "upn", "email", "unique_name"):
        if isinstance(claims.get(claim), str) and claims[claim]:
            return claims[claim]
    return ""


def _said(result: dict) -> str:
    """Entra's error and the first line of its description (AADSTS code and reason)."""
    description = str(result.get("error_description") or "").strip().splitlines()
    return f"{result.get('error', 'no token')}: {description[0] if description else ''}".strip()
