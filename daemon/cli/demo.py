"""`collabd demo`: the product's main job in two minutes, on the embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from .commands import HELP
from .context import Context


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help=HELP["demo"],
        description="Creates people and a collaboration, shows the mail collabd sends and what "
        "the ledger holds. Uses SQLite and local Maildir folders in a new "
        "directory (kept afterwards, so you can open the mails); needs no server.",
    )
    parser.add_argument("--dir", type=Path, help="use this (empty or new) directory instead")
    parser.set_defaults(handler=demo)


def demo(context: Context, args: argparse.Namespace) -> int:
    from ..demo.run import run_demo

    if args.dir is not None and args.dir.exists() and any(args.dir.iterdir()):
        raise UsageError(f"{args.dir} is not empty; the demo needs a fresh directory")
    run_demo(args.dir)
    return 0
