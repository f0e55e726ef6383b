"""OAuth 2.0 sign-in to the mail servers: the current access token, the refresh token of a
delegated sign-in, and how the last sign-in went.

Kept in the ledger, not in a file, so every replica uses (and refreshes) the same token and
`collabd status` on any machine can tell when it runs out and why the last sign-in failed.
Tokens are secrets like the reply-token key in `secrets`: never logged, never printed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..types import UTCDateTime
from .base import Base


class OAuthToken(Base):
    """One row per sign-in: provider, flow, app and mailbox (a new app gets a new row)."""

    __tablename__ = "oauth_tokens"

    # e.g. "microsoft/app/<client id>/collab@example.com"
    account: Mapped[str] = mapped_column(String(500), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Delegated sign-in only (`collabd auth login`): what a new access token is asked with.
    refresh_token: Mapped[str | None] = mapped_column(Text)
    obtained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last server sign-in
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
