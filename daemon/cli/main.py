"""`collabd`: entry point. Parses arguments, loads config, runs one command, maps errors to
exit codes (78 for config errors, as sysexits.h says)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path

from .. import __version__
from ..errors import CollabdError, ConfigError
from .commands import COMMANDS

# collabd uses no pydantic plugin, and looking for them reads the metadata of every installed
# distribution when the first model is built: a quarter of a second of every start.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

# Options of `collabd` itself that take a value: skipped when looking for the command.
_VALUED = ("--config", "--data-dir", "--at", "--as")


# Commands that change the ledger on a person's behalf: `--as` / `[cli] operator` apply.
LEDGER_COMMANDS = frozenset({"people", "collab", "items", "meeting", "minutes", "archive"})


def wanted_command(argv: list[str]) -> str | None:
    """The command named in argv (the first word that is neither an option nor an
    option's value), if it is one collabd has."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the full definition of the command argv names (its module is
    imported) and every other command as a name and a help line only; without argv, every
    command in full."""
    parser = argparse.ArgumentParser(
        prog="collabd",
        description="collabd keeps the ledger of cross-department collaborations and does the "
        "chasing by email and calendar.",
    )
    parser.add_argument("--version", action="version", version=f"collabd {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $COLLABD_CONFIG; without one, the embedded "
        "defaults: SQLite and a local maildir in the data directory)",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", type=Path, help="override daemon.data_dir from the config"
    )
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="act as if it were this time (ISO 8601; without an offset, in the "
        "configured timezone): for demos, dry runs and tests",
    )
    parser.add_argument(
        "--as",
        dest="operator",
        metavar="PERSON",
        help="record changes as made by this person of the ledger (name or mail address; "
        "default: [cli] operator, or [cli] operators for your OS user)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = wanted_command(argv) if argv is not None else None
    full = {module for module, _ in COMMANDS.values()} if argv is None else set()
    if wanted is not None:
        full.add(COMMANDS[wanted][0])
    registered: set[str] = set()
    for name, (module, help_) in COMMANDS.items():
        if module in full and module not in registered:
            registered.add(module)
            importlib.import_module(f"{__package__}.{module}").register(commands)
        elif module not in full:
            commands.add_parser(name, help=help_)
    _explain_common_flags(parser)
    return parser


def _explain_common_flags(parser: argparse.ArgumentParser) -> None:
    """Every --json says what it is for, and every command's --help opens with the line
    `collabd --help` gives it: one wording, set once, instead of a bare flag list."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None and helps.get(name):
                    sub.description = helps[name][:1].upper() + helps[name][1:] + "."
                _explain_common_flags(sub)
        elif "--json" in action.option_strings and action.help is None:
            action.help = "print JSON (for scripts) instead of text"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    from ..service.logs import OffsetFormatter

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    for handler in logging.getLogger().handlers:  # times with their offset (ISO 8601)
        handler.setFormatter(OffsetFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    from ..clock import Clock, FixedClock, parse_instant
    from ..config import config_path, load_settings
    from ..config.loader import salvage_settings
    from .context import Context
    from .dates import resolve_days

    context = None
    try:
        path = config_path(args.config)
        config_problem = ""
        try:
            settings = load_settings(path)
        except ConfigError as exc:
            # `status` still reports the running daemon's health (from the ledger) with a
            # broken file on disk: monitoring must hear the service, not UNKNOWN.
            salvaged = salvage_settings(path) if args.command == "status" else None
            if salvaged is None:
                raise
            settings, config_problem = salvaged, str(exc).replace("\n", "; ")
        if not args.verbose:  # the config's level; -v always shows INFO
            level = max(logging.WARNING, logging.getLevelName(settings.daemon.log_level.upper()))
            logging.getLogger().setLevel(level)
        if args.data_dir is not None:
            settings = settings.model_copy(
                update={"daemon": settings.daemon.model_copy(update={"data_dir": args.data_dir})}
            )
        clock = FixedClock(parse_instant(args.at, settings.tz)) if args.at else Clock()
        resolve_days(args, clock.now().astimezone(settings.tz).date())
        context = Context(
            settings=settings,
            config_path=path,
            argv=argv,
            clock=clock,
            operator=args.operator,
            config_problem=config_problem,
        )
        if args.command in LEDGER_COMMANDS and context.names_operator:
            # Before the command's own transaction: a refused person changes nothing, and
            # the lookup never waits on the command's write lock (SQLite).
            context.origin  # noqa: B018
        code = args.handler(context, args) or 0
        sys.stdout.flush()  # here, where a closed pipe can still be caught
        return code
    except BrokenPipeError:
        # The reader went away (`collabd … | head`): nothing is wrong and nothing more is
        # to be said. Point stdout at /dev/null so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ConfigError as exc:
        print(
            f"collabd: config error:\n{exc}"
            if "\n" in str(exc)
            else f"collabd: config error: {exc}",
            file=sys.stderr,
        )
        return exc.exit_code
    except CollabdError as exc:
        print(f"collabd: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # The machine, not the command: a database that cannot be reached, a full disk, a
        # read-only ledger. One line naming it (and where), not a traceback; anything
        # else is a bug and keeps its traceback.
        from ..inbound.faults import environmental, ledger_file_fault

        what = environmental(exc)
        if what is None:
            raise
        where = ""
        if context is not None:
            from sqlalchemy.engine import make_url

            url = context.settings.store_url
            database = make_url(url).database
            if url.startswith("sqlite") and database:
                # SQLite says "unable to open database file" for a ledger it may not write
                # (its -wal and -shm cannot be made): "database unreachable" sent operators
                # looking for a dead server (review F9).
                what = ledger_file_fault(Path(database)) or what
        if context is not None and context.settings.store.url:
            from ..config.loader import mask_url_password

            where = f" (store.url = {mask_url_password(context.settings.store.url)})"
        print(f"collabd: error: {what}{where}", file=sys.stderr)
        return 69  # EX_UNAVAILABLE
    finally:
        if context is not None:
            context.close()


if __name__ == "__main__":
    sys.exit(main())
