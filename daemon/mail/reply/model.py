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
    # `due` came from "下周" / "月底" / "end of month": the period's last day, meaning its
    # last working day (the caller has the working-day calendar).
    end_of: bool = False
    # "延期一周" / "postpone by 3 days": moved by (n, "days" | "workdays" | "weeks") from
    # the item's own deadline, which only the caller knows.
    shift: tuple[int, str] | None = None

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

    item: int | None  # None: a segment of a multi-command line that reads as nothing
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
    # "可以按期完成" / "on track" / "没问题" (and its note): the answer to a risk check.
    on_track: bool = False
    on_track_note: str | None = None
    # Only thanks / "收到" at the top: recorded, not answered, when nothing else is for the
    # mail answered (no robot ping-pong).
    ack: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "auto_reply": self.auto_reply,
            "commands": [c.to_json() for c in self.commands],
            "minutes": self.minutes.to_json() if self.minutes else None,
            "acceptance": [a.to_json() for a in self.acceptance],
            "new_text": self.new_text,
        }
