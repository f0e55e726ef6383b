"""One event per line, with the fields that matter, readable in `journalctl -u collabd`.

A line is `LEVEL logger: message key=value …`; the fields are `message_id`, `item`, `rule`,
`mailbox` and `replica` when the event has them. Under systemd (stderr connected to the
journal, $JOURNAL_STREAM set) each line starts with a `<N>` syslog priority, so journald
files it at the right level, and the timestamp is left to journald. A traceback stays on the
same line (newlines shown as ` | `): one event, one journal entry.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime

FIELDS = ("message_id", "item", "rule", "mailbox", "replica")
_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class MailFields(logging.Filter):
    """Lifts the Message-ID out of ingest's log lines ("mail <id> …", "ingest of <id> …"),
    which pass it as their first argument, so every mail event carries the field."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            not hasattr(record, "message_id")
            and record.name == "daemon.inbound.ingest"
            and isinstance(record.args, tuple)
            and record.args
            and str(record.msg).startswith(("mail %s", "ingest of %s"))
        ):
            record.message_id = record.args[0]
        return True


class EventFormatter(logging.Formatter):
    def __init__(self, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        fields = [
            f"{name}={_quote(getattr(record, name))}"
            for name in FIELDS
            if getattr(record, name, None) not in (None, "")
        ]
        if fields:
            text += " " + " ".join(fields)
        if record.exc_info:
            text += " | " + self.formatException(record.exc_info)
        text = text.replace("\r", "").replace("\n", " | ")
        if self.journald:
            return f"<{_PRIORITY.get(record.levelname, 6)}>{text}"
        return f"{_stamp(record.created)} {text}"


def _stamp(created: float) -> str:
    """ISO 8601 with the offset (2026-12-03T16:24:51.120+00:00): a line read beside mail
    headers, status times (+08:00) or another host's log says which instant it means."""
    return datetime.fromtimestamp(created).astimezone().isoformat(timespec="milliseconds")


class OffsetFormatter(logging.Formatter):
    """The command line's log lines: `%(asctime)s` with its offset, as the daemon's."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _stamp(record.created)


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if any(c.isspace() for c in text) or not text else text


def setup(level: str = "info") -> None:
    """Replace the CLI's default logging with the daemon's one-line events on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EventFormatter(journald=bool(os.environ.get("JOURNAL_STREAM"))))
    handler.addFilter(MailFields())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Library chatter (imapclient logs every command at DEBUG) stays out unless asked for.
    for noisy in ("imapclient", "sqlalchemy", "alembic", "schedule"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
