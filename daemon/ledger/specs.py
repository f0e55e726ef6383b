"""What a coordinator writes to describe a collaboration (TOML file or CLI flags), checked.

The same shapes serve `collabd collab create --file`, the flags, and the demo. Problems name
the file, the key path (`participants[2].role`) and the value, like config errors do.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..clock import EARLIEST_DAY, LATEST_DAY, plausible_day
from ..errors import DataError
from ..store.enums import PRIORITY_WORDS
from ..store.models import ParticipantRole, Priority

ROLE_WORDS = {
    "主导": "lead",
    "牵头": "lead",
    "配合": "support",
    "协助": "support",
    "支持": "support",
    "监督": "observer",
    "观察": "observer",
}
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _word(table: dict[str, str]):
    def convert(value: object) -> object:
        if isinstance(value, str):
            return table.get(value.strip(), value.strip().lower())
        return value

    return BeforeValidator(convert)


def _plausible(day: date | None) -> date | None:
    if day is not None and not plausible_day(day):
        raise ValueError(f"collabd plans days from {EARLIEST_DAY} to {LATEST_DAY}")
    return day


Day = Annotated[date | None, AfterValidator(_plausible)]
Role = Annotated[ParticipantRole, _word(ROLE_WORDS)]
PriorityWord = Annotated[Priority, _word(PRIORITY_WORDS)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ParticipantSpec(Spec):
    department: str = Field(min_length=1)
    contact: str = Field(min_length=1)  # a mail address or a name
    role: Role = ParticipantRole.SUPPORT
    duties: str = ""


class ItemSpec(Spec):
    description: str = Field(min_length=1)
    owner: str = Field(min_length=1)  # person (address or name) or a participating department
    deadline: Day = None
    priority: PriorityWord = Priority.NORMAL
    done_criteria: str = ""
    collaborators: list[str] = []
    support: str = ""
    depends_on: list[int] = []  # numbers of other items in the same collaboration
    receiver: str | None = None
    department: str | None = None  # the owner's department, if not their own


class CollaborationSpec(Spec):
    code: str | None = Field(default=None, pattern=CODE_PATTERN)
    theme: str = Field(min_length=1)
    goal: str = ""
    start: Day = None
    end: Day = None
    initiator: str = Field(min_length=1)
    department: str | None = None  # initiating department; default: the initiator's
    coordinator: str | None = None  # default: the initiator
    background: str = ""
    participants: list[ParticipantSpec] = []
    items: list[ItemSpec] = []


def spec_problems(error: ValidationError, source: str) -> DataError:
    lines = []
    for problem in error.errors():
        key = ""
        for part in problem["loc"]:
            key += f"[{part + 1}]" if isinstance(part, int) else f".{part}" if key else str(part)
        value = problem.get("input")
        shown = "" if isinstance(value, dict) else f" = {value!r}"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{source}: {key}{shown}: {message}")
    return DataError("\n".join(lines))


def parse_spec(model: type[Spec], data: dict[str, Any], source: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise spec_problems(exc, source) from None


def load_collaboration_file(path: Path) -> CollaborationSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML: {exc}") from None
    return check_period(parse_spec(CollaborationSpec, data, str(path)), str(path))


def check_period(spec: CollaborationSpec, source: str) -> CollaborationSpec:
    """A collaboration cannot end before it starts, however it is described."""
    if spec.start and spec.end and spec.end < spec.start:
        raise DataError(f"{source}: end = {spec.end}: before start = {spec.start}")
    return spec
