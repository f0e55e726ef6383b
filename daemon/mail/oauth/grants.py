"""What every token source returns, and how it says no."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class SignInError(Exception):
    """The identity provider refused or could not be reached. The message is the provider's
    own words (error code and description), never a secret."""


@dataclass(frozen=True)
class Grant:
    access_token: str = field(repr=False)
    expires_at: datetime
    # A refresh token the provider handed out with this grant (delegated sign-in; providers
    # may rotate it on every use, so the newest one is kept).
    refresh_token: str | None = field(default=None, repr=False)
    # Who signed in (the id token's preferred_username / upn), when the provider says:
    # a delegated sign-in may be made by someone other than the mailbox.
    account: str = ""
