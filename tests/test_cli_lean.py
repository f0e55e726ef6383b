"""A command loads what it needs: `collabd --help` lists every command from one table, and
`collabd items list` starts without the libraries of other commands (charts, spreadsheets,
Exchange, migrations, mail templates). Speed itself is measured in bench/lean.py."""

from __future__ import annotations

import subprocess
import sys

from daemon.cli.commands import COMMANDS
from daemon.cli.main import build_parser, wanted_command
from tests.conftest import REPO

HEAVY = (
    "matplotlib",
    "openpyxl",
    "exchangelib",
    "msal",
    "google.auth",
    "httpx",
    "alembic",
    "icalendar",
    "holidays",
    "jinja2",  # mail templates: `items list` sends nothing
    "imapclient",  # the mailbox: `items list` reads only the ledger
    "sqlalchemy.dialects.postgresql",  # every PostgreSQL driver, on a SQLite ledger
    "sqlalchemy.orm",  # the models and their mappers: `items list` reads through plain SQL
)

PROBE = """
import sys
from daemon.cli.main import main
try:
    main(sys.argv[1:])
finally:  # --help exits
    heavy = {heavy!r}
    print("LOADED", sorted(name for name in heavy if name in sys.modules), file=sys.stderr)
"""


def loaded_by(*argv: str) -> tuple[list[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(line for line in result.stderr.splitlines() if line.startswith("LOADED"))
    return eval(line.removeprefix("LOADED ")), result.stdout  # a list literal we printed


def test_every_command_is_in_the_table_with_the_help_its_module_gives():
    parser = build_parser()  # every module, in full
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    registered = {choice.dest: choice.help for choice in commands._choices_actions}
    assert registered == {name: help_ for name, (_, help_) in COMMANDS.items()}


def test_the_command_is_found_after_the_options_and_their_values():
    assert wanted_command(["--config", "items", "--at", "2026-11-23", "items", "list"]) == "items"
    assert wanted_command(["-v", "run"]) == "run"
    assert wanted_command(["--help"]) is None


def test_items_list_starts_without_other_commands_libraries(config_file, demo_ledger, db_url):
    loaded, out = loaded_by("--config", str(config_file), "items", "list")
    assert "输出需求文档V2.0" in out
    if db_url.startswith("postgresql"):  # its own dialect is what it talks to
        loaded.remove("sqlalchemy.dialects.postgresql")
    assert loaded == []


def test_help_lists_every_command_and_loads_nothing_heavy():
    loaded, out = loaded_by("--help")
    assert all(name in out for name in COMMANDS)
    assert loaded == []
