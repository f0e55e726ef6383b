"""What `rules.toml` may contain, and loading it.

The rules file is separate from collabd.toml because it is what admins edit most (and test
with `collabd rules check|test|simulate`); collabd.toml names it with `[rules] file = …`.
Without one, the defaults below are the rules: they follow the seed templates (remind 1–2
working days ahead, risk check 2 working days ahead, urgent items daily and routine ones
weekly, minutes within 1 working day, weekly digest on Friday afternoon).

Every problem is reported as `FILE:LINE: key = value: what is wrong` (exit code 78).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

from ..config.loader import _MISSING, Problem, suggestion
from ..config.schema import _duration
from ..durations import Duration
from ..errors import ConfigError
from .workdays import WorkCalendar, parse_overrides

if TYPE_CHECKING:
    from ..app import App

EMBEDDED = "(embedded default rules)"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ROLES = (
    "owner",  # 负责人
    "collaborators",  # 协作人
    "owner_head",  # the owner's department head (部门负责人)
    "initiator",  # 发起人
    "initiator_leader",  # the initiator's own leader (上级)
    "coordinator",
    "support_department",  # the contact of the department named in the support request
    "department_contacts",  # every participating department's contact person (对接人)
)
Role = Literal[
    "owner",
    "collaborators",
    "owner_head",
    "initiator",
    "initiator_leader",
    "coordinator",
    "support_department",
    "department_contacts",
]
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(value: object) -> time:
    if isinstance(value, time):
        return value
    match = _CLOCK.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError('a time of day is written "HH:MM", e.g. "09:00"')
    return time(int(match[1]), int(match[2]))


def _period(value: object) -> tuple[time, time]:
    if isinstance(value, tuple):
        return value
    start, sep, end = str(value).partition("-")
    if not sep:
        raise ValueError('a work period is written "HH:MM-HH:MM", e.g. "09:00-12:00"')
    return _clock(start.strip()), _clock(end.strip())


Clock = Annotated[time, BeforeValidator(_clock)]
# Serialised as written ("2wd"), so an escalation's stored snapshot reads back.
DurationField = Annotated[
    Duration, BeforeValidator(_duration), PlainSerializer(str, return_type=str)
]
Period = Annotated[tuple[time, time], BeforeValidator(_period)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _not_negative(value: Duration) -> Duration:
    if value.amount < 0:
        raise ValueError("must not be negative")
    return value


class CalendarRules(Section):
    # For a year with no published schedule (not in chinesecalendar, no imported notice, no
    # overrides): "estimate" counts weekends and the statutory holidays computed for the
    # year, marking every decision built on them; "weekdays" counts Mon–Fri, with a
    # warning; "refuse" makes a working-day rule reaching into that year an error.
    fallback: Literal["estimate", "refuse", "weekdays"] = "estimate"
    work_hours: list[Period] = [(time(9), time(12)), (time(13, 30), time(18))]
    # Day-based mails (reminders, risk checks) go out at this local time on working days.
    send_at: Clock = time(9)
    overrides: dict[str, Any] = {}


class QuietHours(Section):
    enabled: bool = True
    start: Clock = time(20)  # from this local time …
    end: Clock = time(8)  # … until this one, mail waits (it is deferred, never dropped)
    non_working_days: bool = True  # weekends and holidays are quiet all day


class Cadence(Section):
    """How often an open item's owner hears about it, by priority (seed: 紧急任务每日同步，
    常规任务每周同步)."""

    high: Literal["daily", "weekly", "off"] = "daily"
    normal: Literal["daily", "weekly", "off"] = "weekly"
    low: Literal["daily", "weekly", "off"] = "off"
    weekday: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "monday"


class Reminders(Section):
    enabled: bool = True
    # seed: 提前1-2天提醒; the 2wd touch is the risk check below
    before_deadline: list[DurationField] = [Duration(1, "wd")]
    cadence: Cadence = Cadence()

    @field_validator("before_deadline")
    @classmethod
    def _working_days(cls, values: list[Duration]) -> list[Duration]:
        for value in values:
            if value.unit not in ("wd", "d") or not value.amount.is_integer() or value.amount < 1:
                raise ValueError(f"{value}: write whole days before the deadline, e.g. 1wd or 2d")
        return values


class RiskCheck(Section):
    enabled: bool = True
    before_deadline: DurationField = Duration(2, "wd")  # seed: 提前2个工作日反馈

    @field_validator("before_deadline")
    @classmethod
    def _working_days(cls, value: Duration) -> Duration:
        if value.unit not in ("wd", "d") or not value.amount.is_integer() or value.amount < 1:
            raise ValueError("write whole days before the deadline, e.g. 2wd")
        return value


class Level(Section):
    after: DurationField = Duration(0, "wd")  # since the trigger started
    to: list[Role] = Field(min_length=1)
    repeat: DurationField | None = None  # send again this long after, while unresolved
    max_repeats: int = Field(default=0, ge=0)

    @field_validator("after", "repeat")
    @classmethod
    def _positive(cls, value: Duration | None) -> Duration | None:
        return None if value is None else _not_negative(value)


class Escalation(Section):
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    trigger: Literal["overdue", "blocked", "needs_support"]
    # blocked / needs_support: how long the status must last before level 1 counts from.
    after: DurationField = Duration(0, "wd")
    levels: list[Level] = Field(min_length=1)
    description: str = ""

    @property
    def rule_id(self) -> str:
        return f"escalation.{self.id}"

    def version(self) -> str:
        """A short hash of this escalation's definition: an episode in flight keeps it."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class Inhibit(Section):
    """Alertmanager-style: while `source` is in flight at `min_level` or higher for an item,
    the rules in `suppress` stay silent for that item (the head is involved: stop nagging)."""

    source: str  # a rule id, e.g. "escalation.overdue"
    min_level: int = Field(default=1, ge=1)
    suppress: list[str] = Field(min_length=1)  # rule ids, or a prefix ending in ".*"
    reason: str = ""


class MinutesWindows(Section):
    submit_within: DurationField = Duration(1, "wd")  # seed: 会议结束后1个工作日内
    host_after: DurationField = Duration(1, "wd")  # then the host hears too
    confirm_within: DurationField = Duration(1, "wd")
    # What silence after confirm_within means: agreement (recorded as such), or a chase.
    silence: Literal["confirmed", "escalate"] = "escalate"


class Acceptance(Section):
    review_within: DurationField = Duration(1, "wd")  # seed: 接收方在1个工作日内完成成果审核


class Digest(Section):
    enabled: bool = True
    weekday: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "friday"  # seed: 每周五下午
    at: Clock = time(15)
    # The coordinator runs the collaboration: the digest is her weekly overview too.
    to: list[Role] = ["initiator", "coordinator", "department_contacts"]
    gantt: bool = True  # a Gantt picture of the items, inline
    # A digest found this late (collabd was down) is skipped, not sent days later: a
    # Friday "this week" read on Monday misleads. Wall-clock time, e.g. "4h".
    late_within: DurationField = Duration(4, "h")

    @field_validator("late_within")
    @classmethod
    def _wall_clock(cls, value: Duration) -> Duration:
        if value.needs_calendar:
            raise ValueError("write wall-clock time, e.g. 4h or 1d")
        return value


def _default_escalations() -> list[Escalation]:
    return [
        Escalation(
            id="overdue",
            trigger="overdue",
            description="an open item past its deadline",
            levels=[
                Level(
                    after=Duration(0, "wd"), to=["owner"], repeat=Duration(1, "wd"), max_repeats=1
                ),
                Level(
                    after=Duration(2, "wd"),
                    to=["owner", "owner_head"],
                    repeat=Duration(2, "wd"),
                    max_repeats=2,
                ),
                Level(after=Duration(5, "wd"), to=["owner_head", "initiator", "coordinator"]),
            ],
        ),
        Escalation(
            id="blocked",
            trigger="blocked",
            after=Duration(2, "wd"),
            description="blocked for 2 working days",
            levels=[Level(to=["initiator", "coordinator", "owner_head"])],
        ),
        Escalation(
            id="needs_support",
            trigger="needs_support",
            after=Duration(1, "wd"),
            description="a support request nobody answered for a working day",
            levels=[
                Level(to=["support_department", "coordinator"]),
                Level(after=Duration(2, "wd"), to=["initiator", "initiator_leader"]),
            ],
        ),
    ]


def _default_inhibits() -> list[Inhibit]:
    return [
        Inhibit(
            source="escalation.overdue",
            min_level=2,
            suppress=["reminder.*", "risk_check"],
            reason="the department head is involved: the routine nag stops",
        )
    ]


class RulesFile(Section):
    timezone: str = ""  # empty: daemon.timezone from collabd.toml
    calendar: CalendarRules = CalendarRules()
    quiet_hours: QuietHours = QuietHours()
    reminders: Reminders = Reminders()
    risk_check: RiskCheck = RiskCheck()
    escalations: list[Escalation] = Field(default_factory=_default_escalations)
    inhibit: list[Inhibit] = Field(default_factory=_default_inhibits)
    minutes: MinutesWindows = MinutesWindows()
    acceptance: Acceptance = Acceptance()
    digest: Digest = Digest()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("not a known IANA timezone (e.g. Asia/Shanghai)") from None
        return value


class Rules:
    """The loaded rules: the file's content, where it came from, and its calendar."""

    def __init__(self, spec: RulesFile, source: str, default_zone: ZoneInfo) -> None:
        self.spec = spec
        self.source = source
        self.zone = ZoneInfo(spec.timezone) if spec.timezone else default_zone
        overrides = parse_overrides(spec.calendar.overrides, source)
        self.calendar = WorkCalendar(
            self.zone,
            overrides=overrides,
            work_hours=spec.calendar.work_hours,
            fallback=spec.calendar.fallback,
        )

    def escalation(self, rule_id: str) -> Escalation | None:
        return next((e for e in self.spec.escalations if e.rule_id == rule_id), None)


# --- loading -----------------------------------------------------------------------------


def load_rules(path: Path | None, default_zone: ZoneInfo) -> Rules:
    if path is None:
        return Rules(RulesFile(), EMBEDDED, default_zone)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such rules file (named by [rules] file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the rules file: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_rules(raw, source, default_zone, text)


def parse_rules(raw: dict, source: str, default_zone: ZoneInfo, text: str = "") -> Rules:
    try:
        spec = RulesFile.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors()]
        raise RulesProblems(source, text, problems) from None
    problems = _semantic_problems(spec)
    if problems:
        raise RulesProblems(source, text, problems)
    try:
        return Rules(spec, source, default_zone)
    except ValueError as exc:  # overrides: the message already names file, key and value
        raise ConfigError(str(exc)) from None


class RulesProblems(ConfigError):
    def __init__(self, source: str, text: str, problems: list[Problem]) -> None:
        self.problems = problems
        lines = []
        for problem in problems:
            line = _line_of(text, problem.key)
            where = f"{source}:{line}" if line else source
            lines.append(problem.render(where))
        super().__init__("\n".join(lines))


def _problem(error: dict) -> Problem:
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        return Problem(key, error["input"], "unknown key" + suggestion(RulesFile, loc))
    message = error["msg"].removeprefix("Value error, ")
    return Problem(key, error.get("input", _MISSING), message)


def _semantic_problems(spec: RulesFile) -> list[Problem]:
    problems = []
    ids = [e.id for e in spec.escalations]
    for index, escalation in enumerate(spec.escalations):
        if ids.count(escalation.id) > 1:
            problems.append(Problem(f"escalations.{index}.id", escalation.id, "used twice"))
        afters = [level.after for level in escalation.levels]
        for n, level in enumerate(escalation.levels):
            if level.max_repeats and level.repeat is None:
                problems.append(
                    Problem(
                        f"escalations.{index}.levels.{n}.max_repeats",
                        level.max_repeats,
                        "needs repeat = DURATION (how long between the repeats)",
                    )
                )
            if level.repeat is not None and level.repeat.amount == 0:
                problems.append(
                    Problem(
                        f"escalations.{index}.levels.{n}.repeat",
                        str(level.repeat),
                        "must be longer than zero",
                    )
                )
        if len({a.unit for a in afters if a.amount}) > 1:
            problems.append(
                Problem(
                    f"escalations.{index}.levels",
                    [str(a) for a in afters],
                    "use one unit for every level's after, so their order is clear",
                )
            )
        elif [a.amount for a in afters] != sorted(a.amount for a in afters):
            problems.append(
                Problem(
                    f"escalations.{index}.levels",
                    [str(a) for a in afters],
                    "levels must come in order of their after",
                )
            )
    known = {
        "reminder.before_deadline",
        "reminder.cadence",
        "risk_check",
        "minutes.missing",
        "minutes.unconfirmed",
        "digest.weekly",
    }
    known |= {e.rule_id for e in spec.escalations}
    depth = {e.rule_id: len(e.levels) for e in spec.escalations}
    for index, inhibit in enumerate(spec.inhibit):
        if inhibit.min_level > depth.get(inhibit.source, 1):
            problems.append(
                Problem(
                    f"inhibit.{index}.min_level",
                    inhibit.min_level,
                    f"{inhibit.source} has {depth.get(inhibit.source, 1)} level(s): "
                    "this inhibit would never apply",
                )
            )
        if inhibit.source not in known:
            problems.append(
                Problem(
                    f"inhibit.{index}.source",
                    inhibit.source,
                    f"no such rule (known: {', '.join(sorted(known))})",
                )
            )
        for pattern in inhibit.suppress:
            prefix = pattern.removesuffix("*")
            if not any(
                rule == pattern or (pattern.endswith("*") and rule.startswith(prefix))
                for rule in known
            ):
                problems.append(Problem(f"inhibit.{index}.suppress", pattern, "matches no rule"))
    if spec.quiet_hours.start == spec.quiet_hours.end and spec.quiet_hours.enabled:
        problems.append(
            Problem(
                "quiet_hours.end",
                spec.quiet_hours.end.strftime("%H:%M"),
                "the same as start: quiet hours would be empty",
            )
        )
    return problems


def _line_of(text: str, key: str) -> int | None:
    """The line an admin has to look at for `key` (best effort: TOML parsers keep none).

    Walks the file's tables in order; array tables (`[[escalations]]`) are counted so that
    `escalations.1.levels.0.to` finds the right block."""
    if not text:
        return None
    parts = key.split(".")
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
    counters: dict[str, int] = {}
    current: list[str] = []
    best = None
    for number, line in enumerate(lines, start=1):
        match = header.match(line)
        if match:
            name = match[1]
            if line.lstrip().startswith("[["):
                counters[name] = counters.get(name, -1) + 1
                # nested array tables restart when their parent advances
                for other in list(counters):
                    if other != name and other.startswith(name + "."):
                        counters[other] = -1
            current = _path_of(name, counters)
            if current == parts[: len(current)] and best is None and len(current) == len(parts):
                best = number
            continue
        stripped = line.split("#", 1)[0]
        if "=" not in stripped:
            continue
        name = stripped.split("=", 1)[0].strip().strip('"')
        path = [*current, *name.split(".")]
        if path == parts[: len(path)] and len(path) >= len(parts) - 1:
            if path == parts:
                return number
            best = best or number
    return best


def _path_of(name: str, counters: dict[str, int]) -> list[str]:
    path: list[str] = []
    so_far = ""
    for part in name.split("."):
        so_far = f"{so_far}.{part}" if so_far else part
        path.append(part)
        if so_far in counters:
            path.append(str(counters[so_far]))
    return path


def today_in(rules: Rules, instant) -> date:
    return instant.astimezone(rules.zone).date()


def active_rules(app: App) -> Rules:
    """The rules file named by `[rules] file` (or the embedded defaults), loaded once per App:
    a new App is a config reload."""
    return app.memo("rules", lambda: load_rules(app.settings.rules.file, app.settings.tz))


def use_rules(app: App, rules: Rules) -> Rules:
    """From now on `active_rules(app)` is `rules`: loaded and validated by the caller (the
    service, at start and on SIGHUP), so a running daemon never reads the file by itself."""
    return app.remember("rules", rules)
