"""The one way in for minutes, whatever carried them: a reply's text, a Markdown file or a
TOML file become `ResolvedMinutes`, or `MinutesProblems` listing everything to fix."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from ..errors import DataError
from ..store.models import Meeting
from .resolve import ResolvedMinutes, resolve
from .sheet import read_text, read_toml


def meeting_day(meeting: Meeting) -> date:
    """The day the meeting took place, where it took place: year-less deadlines count from
    here."""
    try:
        zone = ZoneInfo(meeting.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Asia/Shanghai")
    return meeting.starts_at.astimezone(zone).date()


def read_minutes(
    session: Session, meeting: Meeting, text: str, *, toml: bool = False, source: str = "text"
) -> ResolvedMinutes:
    sheet = read_toml(text, source) if toml else read_text(text)
    return resolve(session, sheet, meeting.collaboration, meeting_day(meeting))


def read_minutes_file(
    session: Session, meeting: Meeting, path: Path
) -> tuple[ResolvedMinutes, str]:
    """A .toml file is TOML; anything else (.md, .txt) is the text form."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    toml = path.suffix.lower() == ".toml"
    return read_minutes(session, meeting, text, toml=toml, source=str(path)), text
