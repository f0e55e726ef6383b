"""`collabd auth login|test|logout`: the OAuth 2.0 sign-in of the collabd mailbox.

login: delegated sign-in once (Microsoft: the device code is printed, a person opens the
page and types it; Google: an installed app's refresh token is handed over), kept in the
ledger for every replica. With flow = "app" it fetches a token now, which checks the app's
settings. test: sign in to IMAP and SMTP now, as the daemon would. logout: forget the
tokens. No token is ever printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..clock import zoned
from ..errors import ConfigError, SignInRefused, UsageError
from ..mail.oauth import Grant, MailboxSignIn, SignInError, open_sign_in
from ..mail.transport import TransportError
from .commands import HELP
from .context import Context
from .graph_auth import graph_login, graph_test


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "auth",
        help=HELP["auth"],
        description="Sign the collabd mailbox in to Microsoft 365 or Google Workspace "
        "([mail.oauth] in the config; docs/microsoft365.md, docs/google.md).",
    )
    sub = parser.add_subparsers(dest="auth_command", metavar="ACTION", required=True)
    login = sub.add_parser(
        "login",
        help="sign in once (device code, or a refresh token) and keep it in the ledger",
        description='flow = "delegated": Microsoft prints a code and a web page; sign in '
        "there as the collabd mailbox (or its owner). Google takes the installed app's "
        'refresh token with --refresh-token-file. flow = "app": fetch a token now to check '
        "the app's settings.",
    )
    login.add_argument(
        "--refresh-token-file",
        metavar="FILE",
        help="Google delegated sign-in: a file holding the refresh token ('-': standard input)",
    )
    login.set_defaults(handler=auth_login)
    test = sub.add_parser("test", help="sign in to the IMAP and SMTP servers now")
    test.set_defaults(handler=auth_test)
    logout = sub.add_parser("logout", help="forget the tokens kept in the ledger")
    logout.set_defaults(handler=auth_logout)


def _sign_in(context: Context) -> MailboxSignIn:
    sign_in = open_sign_in(context.settings, context.app.db)
    if sign_in is None:
        raise ConfigError(
            f"{context.config_path or 'the embedded defaults'}: mail.oauth.provider: not set, "
            "so collabd signs in with a password (see docs/microsoft365.md, docs/google.md)"
        )
    return sign_in


def _graph_mail(context: Context) -> bool:
    """Mail goes through Microsoft Graph: the app signs in to Graph, not to IMAP/SMTP."""
    return context.settings.mail.backend == "graph"


def auth_login(context: Context, args: argparse.Namespace) -> int:
    if _graph_mail(context):
        return graph_login(context)
    sign_in = _sign_in(context)
    oauth = context.settings.mail.oauth
    source = sign_in.source
    try:
        if oauth.flow == "app":
            grant = source.obtain(None)
        elif oauth.provider == "microsoft":
            # Said once Microsoft has handed out a code: an unknown app fails before that.
            header = [
                f"Sign in as {sign_in.user}, or as a person with Full Access to that mailbox, "
                "on any device with a web browser:"
            ]

            def say(message: str) -> None:
                if header:
                    print(header.pop(), flush=True)
                print(message, flush=True)

            grant = source.login(say)
        else:
            grant = source.login(_refresh_token(args.refresh_token_file))
    except SignInError as exc:
        sign_in.failed(f"sign-in at {source.authority} failed: {exc}")
        raise SignInRefused(f"sign-in at {source.authority} failed: {exc}") from None
    sign_in.keep(grant)
    _report(context, sign_in.user, grant)
    if grant.account and grant.account.lower() != sign_in.user.lower():
        _check_other_account(context, sign_in, grant.account)
    return 0


def _check_other_account(context: Context, sign_in: MailboxSignIn, account: str) -> None:
    """Someone other than the mailbox typed the code: fine for a person with Full Access
    to it, a token nobody can use otherwise. The mail server decides, now, not at 3 a.m."""
    print(
        f"warning: {account} signed in, not the mailbox {sign_in.user}: checking that "
        f"{account} may use it",
        flush=True,
    )
    try:
        context.app.transport.incoming.client()  # type: ignore[attr-defined]
    except TransportError as exc:
        sign_in.forget()
        raise SignInRefused(
            f"{account} may not use the mailbox {sign_in.user} ({exc}); its tokens are "
            f"forgotten: run `collabd auth login` again and sign in as {sign_in.user} or a "
            "person with Full Access to it"
        ) from None
    print(f"imap: {account} signed in to the mailbox {sign_in.user}")


def _refresh_token(path: str | None) -> str:
    if not path:
        raise UsageError(
            "Google delegated sign-in: give the installed app's refresh token with "
            "--refresh-token-file FILE (see docs/google.md)"
        )
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the refresh token: {exc.strerror}") from None
    token = text.strip()
    if not token:
        raise UsageError(f"{path}: no refresh token in it")
    return token


def _report(context: Context, user: str, grant: Grant) -> None:
    kept = " and a refresh token" if grant.refresh_token else ""
    who = user
    if grant.account and grant.account.lower() != user.lower():
        who = f"{grant.account} for the mailbox {user}"
    print(
        f"signed in as {who}: access token{kept} kept in the ledger, valid until "
        f"{zoned(grant.expires_at, context.settings.tz, seconds=False)}; "
        "`collabd auth test` signs in to IMAP and SMTP with it"
    )


def auth_test(context: Context, args: argparse.Namespace) -> int:
    if _graph_mail(context):
        return graph_test(context)
    _sign_in(context)
    transport = context.app.transport
    failures = []
    try:
        transport.incoming.client()  # type: ignore[attr-defined]
        print(f"imap: signed in to {transport.incoming.name}")
    except TransportError as exc:
        failures.append(f"imap: {exc}")
    try:
        with transport.outgoing.session():
            pass
        print("smtp: signed in")
    except TransportError as exc:
        failures.append(f"smtp: {exc}")
    if failures:
        raise SignInRefused("\n".join(failures))
    return 0


def auth_logout(context: Context, args: argparse.Namespace) -> int:
    sign_in = _sign_in(context)
    sign_in.forget()
    print(f"forgot the tokens of {sign_in.user}; `collabd auth login` signs in again")
    return 0
