"""What every command handler receives: the parsed settings, the App, and its Origin."""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ..app import App
from ..clock import Clock
from ..config import Settings
from ..errors import CollabdError, ConfigError, UsageError
from ..store.enums import label

if TYPE_CHECKING:  # the ledger's ORM is imported by the commands that use it: `items list`
    # reads through SQL alone (daemon/ledger/listing.py) and starts without it
    from ..ledger.history import Origin
    from ..rules.config import Rules


@dataclass
class Context:
    settings: Settings
    config_path: Path | None
    argv: list[str]
    clock: Clock = field(default_factory=Clock)
    operator: str | None = None  # --as
    config_problem: str = ""  # the file on disk is broken; `status` runs on what it salvaged

    @cached_property
    def app(self) -> App:
        return App(self.settings, clock=self.clock)

    @cached_property
    def origin(self) -> Origin:
        """History rows written by this command name it and who ran it: the person of
        `--as`, `[cli] operator` or `[cli] operators` (refused if the ledger does not know
        them), else the OS user."""
        from ..ledger.history import Origin
        from ..ledger.people import find_person

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        command = _without_locations(self.argv)
        operator, key = self._operator(user)
        if not operator:
            return Origin.cli(command, user)
        with self.app.db.transaction() as session:
            try:
                person = find_person(session, operator)
            except CollabdError as exc:
                if self._bootstrapping(session):
                    # The people list is how the operator comes to exist: a fresh install
                    # could never import it otherwise. Recorded as the OS user, said once.
                    print(
                        f"collabd: warning: {key} {operator!r}: {exc}; recorded as the OS "
                        f"user {user} (the people list is being set up)",
                        file=sys.stderr,
                    )
                    return Origin.cli(command, user)
                if key == "--as":
                    raise UsageError(f"--as {operator}: {exc}; nothing was changed") from None
                raise ConfigError(
                    f"{self.config_path or 'defaults'}: [cli] {key} = {operator!r}: {exc}"
                ) from None
        return Origin.cli(command, user, person)

    def _bootstrapping(self, session) -> bool:
        """`people import`, or any command while the ledger has no people yet."""
        words, args = [], iter(self.argv)
        for arg in args:
            if arg in ("--config", "--data-dir", "--at", "--as"):
                next(args, None)  # its value
            elif not arg.startswith("-"):
                words.append(arg)
        if words[:2] == ["people", "import"]:
            return True
        from sqlalchemy import select

        from ..store.models import Person

        return session.scalar(select(Person.id).limit(1)) is None

    @property
    def names_operator(self) -> bool:
        """Does `--as` or the config name the person this command acts as?"""
        cli = self.settings.cli
        return bool(self.operator or cli.operator or cli.operators)

    def _operator(self, user: str) -> tuple[str, str]:
        """The person named for this command and where they were named."""
        if self.operator:
            return self.operator, "--as"
        cli = self.settings.cli
        if user in cli.operators:
            return cli.operators[user], f"operators.{user}"
        return cli.operator, "operator"

    def rules(self) -> Rules:
        """The rules file, checked, with the imported holiday notices: a broken file is a
        config error here (exit 78, FILE:LINE: key = value), before the command does
        anything, not an error line per job after it has already sent the outbox."""
        from ..rules.current import current_rules  # only the commands that chase need it

        return current_rules(self.app)

    def check_rules(self) -> None:
        """The rules file is valid (or a config error, exit 78), without the ledger's
        notices: for commands that only show what the rules will act on."""
        from ..rules.config import active_rules

        active_rules(self.app)

    @cached_property
    def locale(self) -> str:
        """The language commands print ledger values in: the person the command acts as
        (--as, [cli] operator) reads it in theirs; else `[cli] locale` (zh-CN default)."""
        person = self.origin.person if self.names_operator else None
        return person.locale if person is not None else self.settings.cli.locale

    def word(self, value: StrEnum | str | None) -> str:
        """A ledger value (a status, a role, an answer) as a person reads it, never its id."""
        if value is None:
            return "—"
        return label(value, self.locale) if isinstance(value, StrEnum) else value

    def history(self, entry: dict) -> str:
        """One history row (cli/views.history_view) as a person reads it: 状态：未开始 → 进行中,
        not status: not_started → in_progress; no None."""
        from ..ledger.wording import action_words, change_words

        if entry["field"]:
            return change_words(entry["field"], entry["old"], entry["new"], self.locale)
        new = entry["new"] if entry["new"] not in (None, "") else ""
        return f"{action_words(entry['action'], self.locale)} {new}".strip()

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
