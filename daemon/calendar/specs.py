"""What a coordinator writes to schedule a meeting: flags, or a TOML file, and an agenda in
Markdown or TOML. Problems name the file, the line or key, and the value."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import DataError
from ..ledger.specs import Spec, parse_spec


class AgendaSpec(Spec):
    topic: str = Field(min_length=1)
    owner: str | None = None  # a person (address or name) or a participating department
    minutes: int = Field(default=0, ge=0, le=24 * 60)


class MeetingSpec(Spec):
    collab: str | None = None
    title: str | None = None
    start: str | None = None  # ISO 8601; without an offset, in the configured timezone
    duration: int | None = Field(default=None, gt=0, le=24 * 60)  # minutes
    location: str | None = None
    online_url: str | None = None
    host: str | None = None  # 主持人
    recorder: str | None = None  # 记录人
    attendees: list[str] | None = None  # people, or departments (their contact persons)
    agenda: list[AgendaSpec] | str | None = None  # items, or the path of an agenda file
    attachments: list[str] | None = None
    urgent: bool = False
    reason: str | None = None


def load_meeting_file(path: Path) -> MeetingSpec:
    data = _toml(path)
    spec = parse_spec(MeetingSpec, data, str(path))
    # Relative paths in the file are relative to the file, as people expect.
    if isinstance(spec.agenda, str):
        spec.agenda = str(_beside(path, spec.agenda))
    if spec.attachments:
        spec.attachments = [str(_beside(path, p)) for p in spec.attachments]
    return spec


def _beside(path: Path, name: str) -> Path:
    candidate = Path(name).expanduser()
    return candidate if candidate.is_absolute() else path.parent / candidate


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML: {exc}") from None


def load_agenda(path: Path) -> list[AgendaSpec]:
    """An agenda file: TOML (`[[agenda]]` tables) or Markdown (a list or a table)."""
    if path.suffix.lower() == ".toml":
        data = _toml(path)
        items = data.get("agenda", data.get("items"))
        if not isinstance(items, list):
            raise DataError(f"{path}: expected [[agenda]] tables with topic, owner, minutes")
        return [
            parse_spec(AgendaSpec, item, f"{path}: agenda[{i + 1}]") for i, item in enumerate(items)
        ]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    return parse_markdown_agenda(text, str(path))


_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)、])\s+(.*\S)\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_MINUTES = re.compile(r"^\s*(\d+)\s*(?:分钟|分|min|mins|minutes|minute|m|')?\s*$", re.IGNORECASE)
_HEADER_WORDS = {"议题", "议程", "topic", "item", "agenda", "主题"}
# Separators between topic, owner and minutes in a list item: `|`, a dash with spaces
# around it, or the Chinese brackets people type: 开场（陈静，5分钟）.
_SEPARATORS = re.compile(r"\s*\|\s*|\s+[—–-]{1,2}\s+")
_IN_BRACKETS = re.compile(r"\s*[|，,、]\s*")
# 开场（陈静，5分钟）, and the length after the bracket: 进度回顾（周婷）10 / （周婷） 10 min.
_BRACKETS = re.compile(
    r"^(.*?)\s*[（(](.*)[)）]\s*(\d+\s*(?:分钟|分|min|mins|minutes|minute|m|')?)?\s*$", re.I
)


def parse_markdown_agenda(text: str, source: str) -> list[AgendaSpec]:
    """One agenda item per list item or table row: topic, then owner and minutes.

    1. 开场与目标重申 | 陈静 | 5
    - 研发进度同步 — 张伟 — 15分钟
    - 问题聚焦（赵敏，20 min）
    | 议题 | 负责人 | 时长 |   (a table with a header row works too)
    """
    items: list[AgendaSpec] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _TABLE_RULE.match(line):
            continue
        if line.strip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells and cells[0].lower() in _HEADER_WORDS:
                continue
        else:
            match = _LIST_ITEM.match(line)
            if not match:
                continue  # headings, prose, blank lines
            body = match.group(1)
            bracketed = _BRACKETS.match(body)
            if bracketed:
                cells = [bracketed.group(1), *_IN_BRACKETS.split(bracketed.group(2))]
                cells += [bracketed.group(3)] if bracketed.group(3) else []
            else:
                cells = _SEPARATORS.split(body)
        cells = [c.strip() for c in cells if c.strip()]
        if not cells:
            continue
        topic, owner, minutes = cells[0], None, 0
        for cell in cells[1:]:
            found = _MINUTES.match(cell)
            if found:
                minutes = int(found.group(1))
            elif owner is None:
                owner = cell
            else:
                problems.append(f"{source}:{number}: {cell!r}: expected topic, owner, minutes")
        items.append(AgendaSpec(topic=topic, owner=owner, minutes=minutes))
    if problems:
        raise DataError("\n".join(problems))
    if not items:
        raise DataError(f"{source}: no agenda items found (write one list item per topic)")
    return items
