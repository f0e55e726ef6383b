"""OAuth 2.0 sign-in for the IMAP and SMTP transports (Microsoft 365, Google Workspace).

`open_sign_in(settings, db)` builds the mailbox's sign-in from [mail.oauth], or None when the
transports sign in with a password. The providers' libraries (msal, google-auth) are imported
only when a token is first needed.
"""

from __future__ import annotations

from ...config import Settings, secret_from
from ...store import Database
from .grants import Grant, SignInError
from .sasl import BearerExchange, MechanismUnavailable, choose_mechanism
from .signin import MailboxSignIn, TokenSource, sign_in_rows


def sign_in_user(settings: Settings) -> str:
    """Who signs in: mail.oauth.user, else the IMAP user name, else the mailbox address."""
    mail = settings.mail
    return mail.oauth.user or mail.imap.username or mail.address


def token_source(settings: Settings) -> TokenSource:
    oauth = settings.mail.oauth
    secret = secret_from(oauth.client_secret, oauth.client_secret_file, oauth.client_secret_env)
    if oauth.provider == "microsoft":
        from .microsoft import MicrosoftTokens

        return MicrosoftTokens(
            client_id=oauth.client_id,
            tenant_id=oauth.tenant_id,
            flow=oauth.flow,
            cloud=oauth.cloud,
            client_secret=secret,
            authority=oauth.authority,
            scopes=oauth.scopes,
            ca_file=oauth.ca_file,
        )
    from .google import GoogleTokens

    return GoogleTokens(
        flow=oauth.flow,
        user=sign_in_user(settings),
        client_id=oauth.client_id,
        client_secret=secret,
        service_account_file=oauth.service_account_file,
        token_uri=oauth.token_uri,
        scopes=oauth.scopes,
        ca_file=oauth.ca_file,
    )


def open_sign_in(settings: Settings, db: Database) -> MailboxSignIn | None:
    oauth = settings.mail.oauth
    if not oauth.provider:
        return None
    user = sign_in_user(settings)
    app = oauth.client_id or oauth.service_account_file
    return MailboxSignIn(
        db,
        token_source(settings),
        # A new app, flow or mailbox is a new sign-in, never the old one's tokens.
        account=f"{oauth.provider}/{oauth.flow}/{app}/{user}",
        user=user,
        mechanism=oauth.mechanism,
        refresh_before=oauth.refresh_before.as_timedelta(),
    )


__all__ = [
    "BearerExchange",
    "Grant",
    "MailboxSignIn",
    "MechanismUnavailable",
    "SignInError",
    "choose_mechanism",
    "open_sign_in",
    "sign_in_rows",
    "sign_in_user",
    "token_source",
]
