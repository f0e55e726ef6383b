"""`collabd check-config`: validate the config without running anything."""

from __future__ import annotations

import argparse

from ..config import ENV_VAR
from .context import Context


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "check-config",
        help="validate the config file and exit (78 when it is wrong)",
        description="Validate the config (from --config or $COLLABD_CONFIG) and print what "
        "collabd would use. Errors name the file, the key and the value; exit 78.",
    )
    parser.set_defaults(handler=check_config)


def check_config(context: Context, args: argparse.Namespace) -> int:
    settings = context.settings
    source = (
        str(context.config_path)
        if context.config_path
        else f"embedded defaults (no --config, no ${ENV_VAR})"
    )
    print(f"config ok: {source}")
    print(f"  data directory: {settings.data_dir}")
    print(f"  ledger:         {_safe_url(settings.store_url)}")
    print(f"  mail backend:   {settings.mail.backend} as {settings.mail.address}")
    if settings.mail.backend == "maildir":
        print(f"  maildir root:   {settings.maildir_root}")
    else:
        print(
            f"  smtp:           {settings.mail.smtp.host}:{settings.mail.smtp.port} "
            f"({settings.mail.smtp.security})"
        )
        print(
            f"  imap:           {settings.mail.imap.host}:{settings.mail.imap.port} "
            f"({settings.mail.imap.security}), folder {settings.mail.imap.folder}"
        )
    print(f"  timezone:       {settings.daemon.timezone}")
    print(f"  meeting notice: {settings.meetings.min_notice}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
