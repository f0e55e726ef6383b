"""Signing in to IMAP or SMTP with an OAuth token: refused once, renewed and tried again;
refused twice, reported.

Each transport passes how it offers one SASL exchange to its server and which exception
means "refused"; the rest (which mechanism, which token, when to renew, what to record) is
the same for both.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import partial

from ...textwidth import clip_words
from ..oauth import (
    BearerExchange,
    MailboxSignIn,
    MechanismUnavailable,
    SignInError,
    choose_mechanism,
)
from .base import SignInFailed

log = logging.getLogger(__name__)


def bearer_sign_in(
    sign_in: MailboxSignIn,
    offered: set[str],
    attempt: Callable[[BearerExchange], object],
    refused: type[Exception] | tuple[type[Exception], ...],
    where: str,
) -> str:
    """Sign in over one connection; returns the mechanism used. Raises SignInFailed."""
    try:
        mechanism = choose_mechanism(sign_in.mechanism, offered)
    except MechanismUnavailable as exc:
        return _give_up(sign_in, f"{where}: {exc}")
    token = _token(sign_in.token, where)
    for second_try in (False, True):
        exchange = BearerExchange(mechanism, sign_in.user, token)
        try:
            attempt(exchange)
        except refused as exc:
            said = _server_words(exc, exchange)
            if second_try:
                return _give_up(
                    sign_in,
                    f"{where} refused the {mechanism} sign-in of {sign_in.user} again with a "
                    f"renewed token: {said}",
                )
            log.warning(
                "%s refused the %s sign-in of %s (%s): renewing the token, trying once more",
                where,
                mechanism,
                sign_in.user,
                said,
            )
            token = _token(partial(sign_in.renew, refused=token), where)
            continue
        sign_in.signed_in()
        return mechanism
    raise AssertionError("unreachable")


def _token(get: Callable[[], str], where: str) -> str:
    try:
        return get()
    except SignInError as exc:  # already recorded in the ledger by the sign-in
        raise SignInFailed(f"cannot sign in to {where}: {exc}") from None


def _give_up(sign_in: MailboxSignIn, reason: str) -> str:
    sign_in.failed(reason)
    log.error("%s", reason)
    raise SignInFailed(reason)


def _server_words(exc: Exception, exchange: BearerExchange) -> str:
    """What the server said, in words an admin reads in `collabd status`: its reply text
    (not Python's b'…' repr of it, nor the SMTP error tuple), and what the error it sent
    inside the SASL exchange (RFC 7628 JSON: status, scope) means."""
    code = getattr(exc, "smtp_code", None)
    if code is not None:  # smtplib's (535, b'5.7.3 Authentication unsuccessful')
        text = _text(getattr(exc, "smtp_error", b""))
        said = f"{code} {text}".strip()
    else:
        said = " ".join(_text(arg) for arg in exc.args) or type(exc).__name__
    said = _BYTES_REPR.sub(lambda m: m.group(2), said).strip()
    detail = _sasl_error(exchange.server_error)
    return f"{said} ({detail})" if detail else said


_BYTES_REPR = re.compile(r"""b(['"])(.*?)\1""")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _sasl_error(raw: bytes | None) -> str:
    """The JSON a server sends back inside a failed XOAUTH2/OAUTHBEARER exchange."""
    if not raw:
        return ""
    try:
        error = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return clip_words(raw.decode("utf-8", "replace"), 300)
    if not isinstance(error, dict):
        return clip_words(str(error), 300)
    status = str(error.get("status", "")).lower()
    words = {
        "invalid_token": "the token is not valid for this mailbox or has expired",
        "401": "the token is not valid for this mailbox or has expired",
        "insufficient_scope": "the token lacks the permission for this server",
        "400": "the server could not read the sign-in",
    }.get(status, f"the server says: {status or 'refused'}")
    scope = error.get("scope")
    return f"{words}; it asks for {scope}" if scope else words
