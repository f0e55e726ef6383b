"""`collabd auth login|test` when mail goes through Microsoft Graph (mail.backend = "graph").

The app of [mail.oauth] signs in to Graph with the client credentials grant and Graph's own
scope (`<Graph endpoint>/.default`), never the Exchange IMAP scope: Entra refuses a token
request that names a resource the app has no permissions for (AADSTS70011). login fetches a
token now (proving tenant, client id, secret, CA and consent); test also reads the mailbox
through Graph, as the daemon will.
"""

from __future__ import annotations

from ..clock import zoned
from ..errors import ConfigError, SignInRefused
from ..mail.oauth import SignInError
from ..mail.transport import TransportError, graph_account, graph_settings
from ..mail.transport.graph_auth import graph_scope
from .context import Context


def _account(context: Context):
    settings = graph_settings(context.settings)
    if not settings.client_id:
        raise ConfigError(
            f"{context.config_path or 'the embedded defaults'}: mail.oauth.client_id: not set, "
            'so Graph has no app to sign in with (mail.backend = "graph", docs/microsoft365.md §6)'
        )
    return settings, graph_account(context.settings, context.app.db)


def graph_login(context: Context) -> int:
    settings, account = _account(context)
    sign_in = account.token.sign_in
    where = f"Microsoft Graph sign-in at {settings.authority}"
    try:
        grant = sign_in.source.obtain(None)
    except SignInError as exc:
        sign_in.failed(f"no token from {settings.authority}: {exc}")
        raise SignInRefused(f"{where} failed: {exc}") from None
    sign_in.keep(grant)
    kept = "kept in the ledger" if context.app.db.dialect == "postgresql" else "checked"
    print(
        f"signed in to Microsoft Graph as the app {settings.client_id} for the mailbox "
        f"{settings.user} (scope {graph_scope(settings.endpoint)}): access token {kept}, "
        f"valid until {zoned(grant.expires_at, context.settings.tz, seconds=False)}. "
        "`collabd auth test` reads the mailbox with it."
    )
    return 0


def graph_test(context: Context) -> int:
    settings, account = _account(context)
    try:
        account.token()
        print(f"graph: signed in at {settings.authority} as the app {settings.client_id}")
        folder = account.folder_id(settings.folder)
        page = account.client.json(
            "GET",
            f"{account.user_path}/mailFolders/{folder}/messages?$top=1&$select=id",
            doing=f"reading the folder {settings.folder} of {settings.user}",
        )
    except TransportError as exc:
        raise SignInRefused(f"graph: {exc}") from None
    finally:
        account.close()
    seen = "has mail" if page.get("value") else "is empty"
    print(f"graph: read the mailbox {settings.user}: folder {settings.folder} {seen}")
    return 0
