"""The SASL exchanges that carry an OAuth 2.0 bearer token to IMAP and SMTP.

XOAUTH2 is what Microsoft and Google document for IMAP/SMTP; OAUTHBEARER (RFC 7628) is the
standard one, offered by Google and Dovecot. Both are "client first": the token goes in the
first response. A refused token is answered with a challenge carrying the server's error
(JSON); the client then ends the exchange (XOAUTH2: an empty response, OAUTHBEARER: a single
%x01, RFC 7628 section 3.2.3) and the server says no.
"""

from __future__ import annotations

XOAUTH2, OAUTHBEARER = "XOAUTH2", "OAUTHBEARER"


class MechanismUnavailable(Exception):
    """The server offers none of the mechanisms the configuration allows."""


def choose_mechanism(preference: str, offered: set[str]) -> str:
    """`preference` is mail.oauth.mechanism; `offered` the server's AUTH mechanisms
    (upper case). "auto" takes XOAUTH2 when offered (Exchange Online offers only it), else
    OAUTHBEARER."""
    wanted = [XOAUTH2, OAUTHBEARER] if preference == "auto" else [preference.upper()]
    for mechanism in wanted:
        if mechanism in offered:
            return mechanism
    said = ", ".join(sorted(offered)) or "none"
    raise MechanismUnavailable(
        f"the server offers no {' or '.join(wanted)} sign-in (it offers: {said})"
    )


class BearerExchange:
    """One SASL exchange, as imapclient's sasl_login and smtplib's auth both call it: the
    first call answers with the token, any later call (the server's error) ends it."""

    def __init__(self, mechanism: str, user: str, token: str) -> None:
        self.mechanism, self._user, self._token = mechanism, user, token
        self.server_error = b""  # the server's JSON error, when it refused the token
        self._calls = 0

    def __call__(self, challenge: bytes | None = None) -> str:
        self._calls += 1
        if self._calls == 1:
            return initial_response(self.mechanism, self._user, self._token)
        self.server_error = challenge or b""
        return "\x01" if self.mechanism == OAUTHBEARER else ""

    def __repr__(self) -> str:  # never the token, even in a traceback's locals
        return f"BearerExchange({self.mechanism}, {self._user})"


def initial_response(mechanism: str, user: str, token: str) -> str:
    if mechanism == XOAUTH2:
        return f"user={user}\x01auth=Bearer {token}\x01\x01"
    # RFC 7628: a GS2 header naming the user (',' and '=' escaped), then key=value pairs.
    escaped = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={escaped},\x01auth=Bearer {token}\x01\x01"
