"""The app's bearer token for Microsoft Graph, from Microsoft's own msal library (the OAuth 2.0
client credentials grant: the app signs in as itself, with Graph's application permissions).

msal keeps the token in its in-memory cache and hands it out until shortly before it
expires; `refresh=True` (after Graph answered 401) drops that cache and signs in again.
The secret and the token are never logged or put into an error message.

Instance discovery is off: the authority is named by the config (`cloud`, or `authority`
for a national cloud or a test fixture), so msal must not ask login.microsoftonline.com
which authorities exist; it still reads the tenant's OpenID configuration from the
authority itself.
"""

from __future__ import annotations

import threading
from typing import Any

from .base import TemporaryFailure


class MsalAppToken:
    """A TokenSource (graph_http.py) for one app registration in one tenant."""

    def __init__(
        self, authority: str, tenant_id: str, client_id: str, secret: str, resource: str
    ) -> None:
        self.authority = f"{authority.rstrip('/')}/{tenant_id}"
        self.client_id, self._secret = client_id, secret
        self.scopes = [f"{resource.rstrip('/')}/.default"]
        self._app: Any = None
        self._lock = threading.Lock()

    def __call__(self, refresh: bool = False) -> str:
        with self._lock:
            if refresh or self._app is None:
                self._app = None  # a new app is a new, empty token cache
                self._app = self._open()
            result = self._acquire()
        token = result.get("access_token")
        if token:
            return token
        # msal's error_description names the AADSTS code and the tenant, never the secret.
        described = (str(result.get("error_description") or "").splitlines() or [""])[0]
        raise TemporaryFailure(
            f"Microsoft sign-in refused the app of [mail.graph] (client_id {self.client_id} "
            f"at {self.authority}): {result.get('error', 'no token')}: {described}"
        )

    def _open(self) -> Any:
        import msal
        import requests

        try:
            return msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._secret,
                authority=self.authority,
                instance_discovery=False,
            )
        except (ValueError, requests.RequestException) as exc:
            raise TemporaryFailure(
                f"cannot reach the sign-in authority {self.authority}: {exc}"
            ) from exc

    def _acquire(self) -> dict:
        import requests

        try:
            return self._app.acquire_token_for_client(scopes=self.scopes)
        except requests.RequestException as exc:
            self._app = None  # next time from the start (the discovery document too)
            raise TemporaryFailure(
                f"cannot reach the sign-in authority {self.authority}: {exc}"
            ) from exc
