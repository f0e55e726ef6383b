"""Reply tokens: who a collabd mail was sent to, and in which collaboration, signed.

Every mail collabd sends carries a token in its Reply-To plus-address (`collab+TOKEN@…`)
and in its Message-ID (`<TOKEN.DIGEST@…>`, short so the header is never folded). A reply
therefore names the token in To:, or, where plus-addresses get lost (Exchange), in
In-Reply-To/References. The token is an
HMAC over (person, collaboration, expiry): it cannot be forged without the ledger's secret,
and it is short enough for a mail address's local part (32 characters of base32).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

EPOCH = date(2020, 1, 1)
_PAYLOAD = struct.Struct(">IIH")  # person id, collaboration id (0 = none), expiry day
MAC_BYTES = 10
TOKEN_LENGTH = 32  # base32 of 20 bytes, no padding
_TOKEN = r"[a-z2-7]{32}"


@dataclass(frozen=True)
class TokenClaims:
    person_id: int
    collaboration_id: int | None
    expires: date


class TokenError(ValueError):
    """Why a token was not accepted (malformed, forged, expired): said in the answer mail."""


class ReplyTokens:
    def __init__(self, secret: bytes, mailbox: str, ttl: timedelta = timedelta(days=120)) -> None:
        self._secret = secret
        self.local, _, self.domain = mailbox.lower().partition("@")
        self.ttl = ttl
        self._in_address = re.compile(
            rf"\b{re.escape(self.local)}\+({_TOKEN})@{re.escape(self.domain)}\b", re.IGNORECASE
        )
        self._in_message_id = re.compile(
            rf"<({_TOKEN})\.[0-9a-f]{{12}}@{re.escape(self.domain)}>", re.IGNORECASE
        )

    # --- issuing --------------------------------------------------------------------------
    def issue(self, person_id: int, collaboration_id: int | None, now: datetime) -> str:
        expires = (now.astimezone(UTC) + self.ttl).date()
        payload = _PAYLOAD.pack(person_id, collaboration_id or 0, (expires - EPOCH).days)
        raw = payload + self._mac(payload)
        return base64.b32encode(raw).decode().lower()

    def reply_address(self, token: str) -> str:
        return f"{self.local}+{token}@{self.domain}"

    def message_id(self, token: str, dedupe_key: str) -> str:
        digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:12]
        return f"<{token}.{digest}@{self.domain}>"

    # --- reading --------------------------------------------------------------------------
    def verify(self, token: str, now: datetime) -> TokenClaims:
        try:
            raw = base64.b32decode(token.upper())
        except (ValueError, TypeError):
            raise TokenError("the reply token is damaged") from None
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if len(mac) != MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise TokenError("the reply token is not one collabd issued")
        person_id, collaboration_id, day = _PAYLOAD.unpack(payload)
        expires = EPOCH + timedelta(days=day)
        if now.astimezone(UTC).date() > expires:
            raise TokenError(f"the reply token expired on {expires.isoformat()}")
        return TokenClaims(person_id, collaboration_id or None, expires)

    def find(self, addresses: Iterable[str], message_ids: Iterable[str]) -> list[str]:
        """Candidate tokens in a reply, most direct first: the To/Cc address, then the thread."""
        found: list[str] = []
        for text in addresses:
            found += [m.lower() for m in self._in_address.findall(text or "")]
        for text in message_ids:
            found += [m.lower() for m in self._in_message_id.findall(text or "")]
        return list(dict.fromkeys(found))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:MAC_BYTES]


@dataclass(frozen=True)
class MailIdentity:
    """Who collabd is on the wire, and how it signs the way back (reply tokens)."""

    name: str
    address: str
    tokens: ReplyTokens

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]
