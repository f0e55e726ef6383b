"""Every top-level command, the module that implements it, and its one-line help.

`collabd --help` is printed from this table alone, and `collabd COMMAND` imports only the
module of COMMAND: a command never pays for the libraries of another (charts and
spreadsheets for `archive`, Exchange for `ews`, the reply reader for `ingest` …). The
modules take their help from here too, so it is written once.
"""

from __future__ import annotations

# command -> (module in daemon.cli, help); in the order `collabd --help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "people": (
        "people",
        "who is who: import from CSV, list",
    ),
    "collab": (
        "collab",
        "collaborations (协作): create, list, show, edit, add-department, edit-department, "
        "remove-department, delete, cancel, close",
    ),
    "items": (
        "items",
        "action items (#1, #2 …): add, list, show, update, edit, cancel, import",
    ),
    "meeting": (
        "meeting",
        "meetings as calendar invitations: schedule, update, cancel, list, show, find-time",
    ),
    "minutes": (
        "minutes",
        "meeting minutes (会议纪要): publish, show, request, template",
    ),
    "archive": (
        "archive",
        "archive a collaboration: a YYYY-MM-主题 folder with record.xlsx, record.html "
        "and the deliverables; the collaboration becomes read-only",
    ),
    "export": (
        "archive",
        "the live follow-up ledger (跟进台账) as xlsx or csv",
    ),
    "parse-reply": (
        "mailin",
        "show what collabd reads in a reply mail (JSON), changing nothing",
    ),
    "ingest": (
        "mailin",
        "read the collabd mailbox once, apply every reply, then exit",
    ),
    "watch": (
        "mailin",
        "keep reading the collabd mailbox and sending answers until stopped",
    ),
    "outbox": (
        "outbox",
        "mail collabd has queued: list, send",
    ),
    "db": (
        "db",
        "the ledger database: upgrade, current",
    ),
    "check-config": (
        "settings_check",
        "validate the config file and the rules file it names (exit 78 when wrong)",
    ),
    "auth": (
        "auth",
        "OAuth 2.0 sign-in of the collabd mailbox: login, test, logout",
    ),
    "tick": (
        "rules",
        "run the rules and time-driven jobs once (as of --at), then send due mail",
    ),
    "rules": (
        "rules",
        "check, test and simulate the rules file",
    ),
    "calendar": (
        "rules",
        "the working-day calendar: explain a date, import the State Council's holiday notice",
    ),
    "run": (
        "service",
        "run the service: watch the mailbox, tick the rules, send the outbox",
    ),
    "status": (
        "service",
        "is the service healthy? (exit 0 ok, 1 warning, 2 critical)",
    ),
    "demo": (
        "demo",
        "run the whole product once, in a temporary directory, on a simulated clock",
    ),
}

HELP = {name: help_ for name, (_, help_) in COMMANDS.items()}
