"""Result types of the reply reader.

Everything is a frozen dataclass so a parsed reply can be logged, compared in
tests and passed between threads without anyone mutating it by accident.
``to_json`` gives the exact wire shape the rest of collabd (and the fixture
corpus) relies on; do not add keys there without updating both.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from .edits import EditCommand

#: The only status values a command can carry.
STATUSES = ("not_started", "in_progress", "done", "blocked", "needs_support", "delayed")


@dataclass(frozen=True)
class Command:
    """One status update, e.g. ``#2 阻塞: 等待设计``.

    ``item`` is None for a bare reply (``完成``) that names no item; the caller
    applies it when the reminder was about exactly one item.
    """

    item: int | None
    status: str
    progress: int | None = None
    due: datetime.date | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "status": self.status,
            "progress": self.progress,
            "due": self.due.isoformat() if self.due else None,
            "note": self.note,
        }


@dataclass(frozen=True)
class MinutesVerdict:
    """Whole-reply verdict on circulated minutes: ``confirmed`` or ``objection``."""

    verdict: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "note": self.note}


@dataclass(frozen=True)
class Acceptance:
    """Verdict on a delivered item: ``accepted`` or ``rejected``."""

    item: int
    verdict: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item, "verdict": self.verdict, "note": self.note}


@dataclass(frozen=True)
class CommandError:
    """A line that looks like ``#N <status>`` but whose status word is unknown.

    Kept out of ``to_json``: it exists so the caller can answer
    "无法识别“阻赛”" instead of silently ignoring the line.
    """

    item: int
    word: str
    line: str


@dataclass(frozen=True)
class ParsedReply:
    """Everything collabd reads out of one reply mail."""

    auto_reply: bool = False
    commands: list[Command] = field(default_factory=list)
    minutes: MinutesVerdict | None = None
    acceptance: list[Acceptance] = field(default_factory=list)
    new_text: str = ""
    errors: list[CommandError] = field(default_factory=list)
    # The coordinator's commands (转交, 截止, 取消, 依赖, 新增; reply/edits.py). Kept out of
    # to_json, like errors: the fixture corpus's wire shape is the status grammar's.
    edits: list[EditCommand] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "auto_reply": self.auto_reply,
            "commands": [c.to_json() for c in self.commands],
            "minutes": self.minutes.to_json() if self.minutes else None,
            "acceptance": [a.to_json() for a in self.acceptance],
            "new_text": self.new_text,
        }
