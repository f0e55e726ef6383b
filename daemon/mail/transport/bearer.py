"""Signing in to IMAP or SMTP with an OAuth token: refused once, renewed and tried again;
refused twice, reported.

Each transport passes how it offers one SASL exchange to its server and which exception
means "refused"; the rest (which mechanism, which token, when to renew, what to record) is
the same for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

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
    """The server's answer, and the error it sent inside the SASL exchange (JSON)."""
    said = str(exc).strip()
    if exchange.server_error:
        said += f"; {exchange.server_error.decode('utf-8', 'replace')[:300]}"
    return said
