"""Reply tokens: a credential for one person to answer one collabd mail, signed.

Every mail collabd sends has two identifiers, kept apart on purpose:

* Its **thread id** (8 bytes, derived from the mail's dedupe key with the ledger's secret),
  written into the Message-ID `<THREAD@domain>`. It is not secret: it travels in every
  reply's In-Reply-To/References and so reaches anyone Cc'd. It only finds the mail; a
  reply that carries nothing else acts only when its From is the person the mail was
  addressed to (inbound/reading.py).
* Its **reply token**, only in the Reply-To plus-address (`collab+TOKEN@…`): an HMAC over
  (person, collaboration, thread id, expiry). The thread id binds it to that one mail, and
  so to what the mail was about (item, meeting, minutes, acceptance round, collaboration:
  the outbox row's columns) and to its kind. It cannot be forged without the secret.

48 characters of base32: `collab+TOKEN` stays within an address's 64-character local part.
Tokens never reach the log: `fingerprint()` is what is logged instead.
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
_PAYLOAD = struct.Struct(">II8sH")  # person id, collaboration id (0 = none), thread, expiry day
MAC_BYTES = 12
TOKEN_LENGTH = 48  # base32 of 30 bytes, no padding
_TOKEN = r"[a-z2-7]{48}"
NO_THREAD = bytes(8)  # a token not tied to one mail (tests and tools issue these)


@dataclass(frozen=True)
class TokenClaims:
    person_id: int
    collaboration_id: int | None
    expires: date
    thread: str = ""  # the Message-ID of the mail this token answers ("" = none)


class TokenError(ValueError):
    """Why a token was not accepted (malformed, forged, expired). The text is for the log;
    `reason` (damaged, forged, expired) and `expires` are what the answer's template says
    in the reader's language."""

    def __init__(self, text: str, reason: str, expires: date | None = None) -> None:
        super().__init__(text)
        self.reason = reason
        self.expires = expires


class ReplyTokens:
    def __init__(self, secret: bytes, mailbox: str, ttl: timedelta = timedelta(days=120)) -> None:
        self._secret = secret
        self.local, _, self.domain = mailbox.lower().partition("@")
        self.ttl = ttl
        self._in_address = re.compile(
            rf"\b{re.escape(self.local)}\+({_TOKEN})@{re.escape(self.domain)}\b", re.IGNORECASE
        )

    # --- issuing --------------------------------------------------------------------------
    def thread_id(self, dedupe_key: str) -> bytes:
        """The mail's thread id: unique per dedupe key, the same in every replica."""
        return hmac.new(self._secret, b"thread:" + dedupe_key.encode(), hashlib.sha256).digest()[:8]

    def message_id(self, thread: bytes) -> str:
        return f"<{thread.hex()}@{self.domain}>"

    def thread_of(self, message_id: str) -> bytes | None:
        """The thread id in one of collabd's own Message-IDs (None for any other)."""
        local, _, domain = message_id.strip("<>").partition("@")
        if domain != self.domain or not re.fullmatch(r"[0-9a-f]{16}", local):
            return None
        return bytes.fromhex(local)

    def issue(
        self,
        person_id: int,
        collaboration_id: int | None,
        now: datetime,
        thread: bytes = NO_THREAD,
    ) -> str:
        expires = (now.astimezone(UTC) + self.ttl).date()
        payload = _PAYLOAD.pack(person_id, collaboration_id or 0, thread, (expires - EPOCH).days)
        raw = payload + self._mac(payload)
        return base64.b32encode(raw).decode().lower()

    def reply_address(self, token: str) -> str:
        return f"{self.local}+{token}@{self.domain}"

    # --- reading --------------------------------------------------------------------------
    def verify(self, token: str, now: datetime) -> TokenClaims:
        try:
            raw = base64.b32decode(token.upper())
        except (ValueError, TypeError):
            raise TokenError("the reply token is damaged", "damaged") from None
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if len(mac) != MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise TokenError("the reply token is not one collabd issued", "forged")
        person_id, collaboration_id, thread, day = _PAYLOAD.unpack(payload)
        expires = EPOCH + timedelta(days=day)
        if now.astimezone(UTC).date() > expires:
            raise TokenError(
                f"the reply token expired on {expires.isoformat()}", "expired", expires
            )
        message_id = self.message_id(thread) if thread != NO_THREAD else ""
        return TokenClaims(person_id, collaboration_id or None, expires, message_id)

    def find(self, addresses: Iterable[str]) -> list[str]:
        """Candidate tokens in a reply's To/Cc addresses (never in its thread headers)."""
        found: list[str] = []
        for text in addresses:
            found += [m.lower() for m in self._in_address.findall(text or "")]
        return list(dict.fromkeys(found))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:MAC_BYTES]


def fingerprint(secret_text: str) -> str:
    """A short, one-way name for a token or address in logs: enough to match two log
    lines, useless to answer a mail with."""
    return "tok-" + hashlib.sha256(secret_text.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class MailIdentity:
    """Who collabd is on the wire, and how it signs the way back (reply tokens)."""

    name: str
    address: str
    tokens: ReplyTokens

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]
