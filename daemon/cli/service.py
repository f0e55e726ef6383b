"""`collabd run` (the service) and `collabd status` (is it doing its job?)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..config.loader import mask_url_password
from ..errors import CollabdError
from ..inbound.faults import environmental, ledger_file_fault
from ..service import logs
from ..service.health import CRITICAL, LEVELS, WARNING, assess, unreadable_ledger
from ..service.runner import Service
from .commands import HELP
from .context import Context
from .output import emit_json

EX_TEMPFAIL = 75  # sysexits.h: try again later (the unit restarts on it; 78 it does not)


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help=HELP["run"],
        description="Run collabd in the foreground until SIGTERM/SIGINT: watch the collabd "
        "mailbox (one replica per mailbox), run the rule tick every service.tick_every "
        "(one replica per tick), and send the outbox. SIGHUP reloads the config (a bad "
        "file is refused and the old config kept). Under systemd (Type=notify) it "
        "reports READY, STATUS and WATCHDOG. Logs one event per line on stderr.",
    )
    run.set_defaults(handler=run_command)

    status = commands.add_parser(
        "status",
        help=HELP["status"],
        description="Read the ledger and report: live replicas, last mailbox sync, last rule "
        "tick, outbox backlog and oldest due mail, quarantined mail, failed sends and "
        "holiday calendar coverage. Exit 0 when healthy, 1 on a warning, 2 when "
        "critical: suitable for monitoring. Thresholds: docs/operations.md.",
    )
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=status_command)


def run_command(context: Context, args: argparse.Namespace) -> int:
    logs.setup("debug" if args.verbose else context.settings.daemon.log_level)
    data_dir = args.data_dir

    def override(settings):
        if data_dir is None:
            return settings
        daemon = settings.daemon.model_copy(update={"data_dir": data_dir})
        return settings.model_copy(update={"daemon": daemon})

    service = Service(
        context.settings, context.config_path, clock=context.clock, settings_override=override
    )
    try:
        return service.run()
    except CollabdError:  # config, schema …: the CLI maps these to their exit codes
        raise
    except Exception as exc:
        what = environmental(exc)
        if what is not None:
            # A fault of the machine (a ledger remounted read-only, a full disk, the
            # database away): one line naming it and the ledger, and EX_TEMPFAIL, so that
            # systemd tries again (Restart=on-failure) and starts once the fault is gone.
            settings = context.settings
            ledger = mask_url_password(settings.store_url)
            database = make_url(settings.store_url).database
            if settings.store_url.startswith("sqlite") and database:
                ledger = database
                what = ledger_file_fault(Path(database)) or what
            print(f"collabd: error: cannot run: {what} (ledger {ledger})", file=sys.stderr)
            return EX_TEMPFAIL
        # A bug: its traceback in the journal, and exit 1 so systemd restarts us.
        logging.getLogger("daemon.service").exception("collabd run stopped by an error")
        return 1


def status_command(context: Context, args: argparse.Namespace) -> int:
    try:
        health = assess(context.app)
        if context.config_problem:
            health.add(
                "config",
                WARNING,
                f"{context.config_problem} (a running daemon keeps the config it loaded; "
                "fix the file, check it with `collabd check-config`, then reload)",
            )
    except SQLAlchemyError as exc:  # a monitor must hear CRITICAL, not a traceback
        reason = unreadable_ledger(context.app, exc)
        if args.json:
            emit_json(
                {
                    "status": "critical",
                    "checks": [{"name": "ledger", "status": "critical", "detail": reason}],
                }
            )
        else:
            print(f"collabd CRITICAL\n  ledger      critical {reason}")
        return CRITICAL
    if args.json:
        emit_json(health.to_json())
        return health.level
    print(f"collabd {LEVELS[health.level].upper()}")
    for check in health.checks:
        print(f"  {check.name:<11} {LEVELS[check.level]:<8} {check.detail}")
    return health.level
