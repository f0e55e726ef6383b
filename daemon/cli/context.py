"""What every command handler receives: the parsed settings, the App, and its Origin."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

from ..app import App
from ..clock import Clock
from ..config import Settings
from ..ledger.history import Origin


@dataclass
class Context:
    settings: Settings
    config_path: Path | None
    argv: list[str]
    clock: Clock = field(default_factory=Clock)

    @cached_property
    def app(self) -> App:
        return App(self.settings, clock=self.clock)

    @cached_property
    def origin(self) -> Origin:
        """History rows written by this command name it, and the OS user who ran it."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return Origin.cli(_without_locations(self.argv), user)

    def local(self, instant: datetime) -> str:
        """An instant as the admin reads it: configured timezone, to the minute."""
        return instant.astimezone(self.settings.tz).strftime("%Y-%m-%d %H:%M")

    def close(self) -> None:
        if "app" in self.__dict__:
            self.app.close()


def _without_locations(argv: list[str]) -> list[str]:
    """The command as history shows it: without --config/--data-dir, which say where, not what."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--config", "--data-dir"):
            skip = True
        elif not arg.startswith(("--config=", "--data-dir=")):
            kept.append(arg)
    return kept
