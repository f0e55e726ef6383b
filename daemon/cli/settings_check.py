"""`collabd check-config`: validate the config without running anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from ..config import ENV_VAR
from ..errors import CollabdError, ConfigError
from ..rules.config import load_rules
from .commands import HELP
from .context import Context


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "check-config",
        help=HELP["check-config"],
        description="Validate the config (from --config or $COLLABD_CONFIG) and the rules "
        "file its [rules] file names, and print what collabd would use. Errors name the "
        "file, the line, the key and the value; exit 78.",
    )
    parser.set_defaults(handler=check_config)


def check_config(context: Context, args: argparse.Namespace) -> int:
    settings = context.settings
    # The rules file is config too: a broken one is reported here (FILE:LINE: key = value,
    # exit 78), not by the first tick of a daemon that already started.
    rules = load_rules(settings.rules.file, settings.tz)
    source = (
        str(context.config_path)
        if context.config_path
        else f"embedded defaults (no --config, no ${ENV_VAR})"
    )
    # Before "config ok": an operator every other command refuses is a config error here too.
    _check_operators(context)
    print(f"config ok: {source}")
    print(f"  data directory: {settings.data_dir}")
    print(f"  ledger:         {_safe_url(settings.store_url)}")
    print(f"  mail backend:   {settings.mail.backend} as {settings.mail.address}")
    if settings.mail.backend == "maildir":
        print(f"  maildir root:   {settings.maildir_root}")
    elif settings.mail.backend == "ews":
        _print_ews(settings)
    elif settings.mail.backend == "graph":
        _print_graph(settings)
    else:
        print(
            f"  smtp:           {settings.mail.smtp.host}:{settings.mail.smtp.port} "
            f"({settings.mail.smtp.security})"
        )
        print(
            f"  imap:           {settings.mail.imap.host}:{settings.mail.imap.port} "
            f"({settings.mail.imap.security}), folder {settings.mail.imap.folder}"
        )
        if settings.mail.oauth.provider:
            _print_oauth(settings)
    print(f"  timezone:       {settings.daemon.timezone}")
    print(f"  meeting notice: {settings.meetings.min_notice}")
    print(f"  calendar:       {settings.calendar.backend}")
    print(f'  rules:          {rules.source} (holidays: fallback = "{rules.calendar.fallback}")')
    if settings.daemon.admins:
        print(f"  admins:         {', '.join(settings.daemon.admins)}")
    _check_authserv(settings)
    return 0


def _check_authserv(settings) -> None:
    """Without the MTA's word, a From is whatever the sender typed (docs/security.md)."""
    authserv = settings.mail.trusted_authserv_id
    if authserv:
        print(f"  trusted MTA:    {authserv} (Authentication-Results)")
        return
    print(
        "collabd: warning: [mail] trusted_authserv_id is not set: mail without a reply token "
        "(a fresh [协作 CODE] mail, Outlook invitations and answers) is not checked against "
        "your MTA's Authentication-Results, and a forged From is not recognised as such; "
        "fresh tagged mail acts as nobody. Set it to the authserv-id your MTA writes "
        "(docs/security.md, 'At the MTA').",
        file=sys.stderr,
    )


def _check_operators(context: Context) -> None:
    """[cli] operator / operators name people of the ledger. Once the ledger has people,
    every command refuses one it does not know (exit 78), so check-config does too, in the
    same words; before the people list is imported, commands record the OS user, and this
    only warns."""
    cli = context.settings.cli
    named = {"operator": cli.operator} if cli.operator else {}
    named |= {f"operators.{user}": name for user, name in cli.operators.items()}
    if not named or not _ledger_exists(context.settings):
        return
    from sqlalchemy import select

    from ..ledger.people import find_person
    from ..store.models import Person

    where = context.config_path or "defaults"
    unknown: list[str] = []
    try:
        with context.app.db.transaction() as session:
            people = session.scalar(select(Person.id).limit(1)) is not None
            for key, name in named.items():
                try:
                    find_person(session, name)
                except CollabdError as exc:
                    unknown.append(f"{where}: [cli] {key} = {name!r}: {exc}")
    except Exception as exc:  # the ledger cannot be read: check-config is about the file
        print(
            f"collabd: warning: cannot check [cli] operator in the ledger: {exc}", file=sys.stderr
        )
        return
    if unknown and people:
        raise ConfigError("\n".join(unknown))
    for line in unknown:
        print(
            f"collabd: warning: {line} (the ledger has no people yet: commands record the OS "
            "user until `collabd people import` brings them)",
            file=sys.stderr,
        )


def _ledger_exists(settings) -> bool:
    url = settings.store_url
    if not url.startswith("sqlite"):
        return True
    database = make_url(url).database
    return bool(database) and Path(database).exists()


def _print_ews(settings) -> None:
    """Where and as whom, never the secret: only which kind of source holds it."""
    ews = settings.mail.ews
    where = ews.url or f"autodiscover for {settings.mail.address}"
    secret = (
        f"from file {ews.password_file}"
        if ews.password_file
        else f"from ${ews.password_env}"
        if ews.password_env
        else "in the config file"
    )
    print(f"  ews:            {where}")
    print(f"  ews auth:       {ews.auth} as {ews.username or settings.mail.address}, {secret}")
    print(f"  ews folders:    {ews.folder} → {ews.processed_folder} | {ews.quarantine_folder}")


def _print_oauth(settings) -> None:
    """Which provider, flow, endpoint and scopes; of the secret only where it comes from."""
    from ..mail.oauth import sign_in_user, token_source

    oauth = settings.mail.oauth
    source = token_source(settings)
    secret = (
        f"client secret from file {oauth.client_secret_file}"
        if oauth.client_secret_file
        else f"client secret from ${oauth.client_secret_env}"
        if oauth.client_secret_env
        else "client secret in the config file"
        if oauth.client_secret
        else f"service account key {oauth.service_account_file}"
        if oauth.service_account_file
        else "no client secret (public client)"
    )
    cloud = f", cloud {oauth.cloud}" if oauth.provider == "microsoft" else ""
    print(
        f"  oauth:          {oauth.provider}, flow {oauth.flow}{cloud}, as {sign_in_user(settings)}"
    )
    print(f"  oauth tokens:   {source.authority} ({', '.join(source.scopes)})")
    print(f"  oauth client:   {oauth.client_id or '-'}, {secret}; mechanism {oauth.mechanism}")


def _print_graph(settings) -> None:
    """Which tenant, app and mailbox, never the secret: only where it is kept."""
    from ..config.graph_app import graph_app

    graph, app = settings.mail.graph, graph_app(settings)
    secret = (
        f"from file {app.client_secret_file}"
        if app.client_secret_file
        else f"from ${app.client_secret_env}"
        if app.client_secret_env
        else "in the config file"
    )
    print(f"  graph:          {app.endpoint} as {graph.user or settings.mail.address}")
    print(f"  graph sign-in:  {app.authority}, app {app.client_id} ([{app.section}])")
    print(f"  graph secret:   {secret}")
    folders = f"{graph.folder} → {graph.processed_folder} | {graph.quarantine_folder}"
    print(f"  graph folders:  {folders}")


def _safe_url(url: str) -> str:
    # Not SQLAlchemy's hide_password: it shows what follows an unescaped `@` in a password
    # and every `?password=` parameter.
    from ..config.loader import mask_url_password

    return mask_url_password(url)
