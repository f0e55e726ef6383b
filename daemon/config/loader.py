"""Loading and validating collabd.toml.

Every problem is reported as `FILE: key.path = value: what is wrong`, all problems at once,
so an admin fixes the file in one go. The CLI turns ConfigError into exit code 78 (EX_CONFIG).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .schema import Settings

ENV_VAR = "COLLABD_CONFIG"


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    message: str

    def render(self, source: str) -> str:
        if self.value is _MISSING:
            return f"{source}: {self.key}: {self.message}"
        return f"{source}: {self.key} = {_show(self.value)}: {self.message}"


_MISSING = object()


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{…}"
    return repr(value)


class ConfigProblems(ConfigError):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


def config_path(cli_value: str | os.PathLike | None) -> Path | None:
    """--config wins over $COLLABD_CONFIG; neither means the embedded defaults."""
    chosen = cli_value or os.environ.get(ENV_VAR)
    return Path(chosen) if chosen else None


def load_settings(path: Path | None) -> Settings:
    if path is None:
        return Settings()
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the config file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    settings = validate(raw, source)
    # The rules file is named relative to the config file that names it.
    rules_file = settings.rules.file
    if rules_file is not None and not rules_file.expanduser().is_absolute():
        resolved = path.parent / rules_file
        settings = settings.model_copy(
            update={"rules": settings.rules.model_copy(update={"file": resolved})}
        )
    return settings


def validate(raw: dict[str, Any], source: str) -> Settings:
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigProblems(source, [_problem(error) for error in exc.errors()]) from None
    problems = semantic_problems(settings)
    if problems:
        raise ConfigProblems(source, problems)
    return settings


def _problem(error: dict[str, Any]) -> Problem:
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        return Problem(key, error["input"], "unknown key" + _suggestion(loc))
    message = error["msg"].removeprefix("Value error, ")
    return Problem(key, error.get("input", _MISSING), message)


def _suggestion(loc: tuple[str, ...]) -> str:
    """`mail.smpt` → (did you mean `mail.smtp`?), found among the keys the section allows."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(loc[-1], allowed, n=1)
    parent = ".".join(loc[:-1])
    if close:
        return f" (did you mean {'.'.join([*loc[:-1], close[0]])}?)"
    return f" ({parent or 'the top level'} allows: {', '.join(allowed)})"


def semantic_problems(settings: Settings) -> list[Problem]:
    """Checks that span several keys, with the key an admin has to edit."""
    problems: list[Problem] = []
    mail = settings.mail
    if mail.backend == "ews" or settings.calendar.backend == "ews":
        problems += ews_problems(settings)
    if mail.backend == "imap":
        for section, name in ((mail.imap, "imap"), (mail.smtp, "smtp")):
            if not section.host:
                problems.append(
                    Problem(
                        f"mail.{name}.host",
                        _MISSING,
                        f'required when mail.backend = "imap" (the {name.upper()} server)',
                    )
                )
    for section, name in ((mail.imap, "imap"), (mail.smtp, "smtp")):
        if section.password_file is not None:
            if section.password:
                problems.append(
                    Problem(
                        f"mail.{name}.password_file",
                        str(section.password_file),
                        f"set either mail.{name}.password or this, not both",
                    )
                )
            elif not section.password_file.is_file():
                problems.append(
                    Problem(
                        f"mail.{name}.password_file", str(section.password_file), "no such file"
                    )
                )
    for key in ("timeout",):
        for section, name in ((mail.imap, "imap"), (mail.smtp, "smtp")):
            if getattr(section, key).needs_calendar:
                problems.append(
                    Problem(
                        f"mail.{name}.{key}",
                        str(getattr(section, key)),
                        "use wall-clock units (s, m, h) here",
                    )
                )
    if settings.meetings.min_notice.unit == "wh":
        problems.append(
            Problem(
                "meetings.min_notice",
                str(settings.meetings.min_notice),
                "use d, h or wd for the notice period",
            )
        )
    return problems


def ews_problems(settings: Settings) -> list[Problem]:
    """[mail.ews]: where Exchange is, and how collabd proves who it is (never printed)."""
    ews, problems = settings.mail.ews, []
    needed_by = (
        'mail.backend = "ews"' if settings.mail.backend == "ews" else 'calendar.backend = "ews"'
    )
    if not ews.url and not ews.autodiscover:
        problems.append(
            Problem(
                "mail.ews.url",
                _MISSING,
                f"required when {needed_by} (e.g. https://mail.example.com/EWS/Exchange.asmx), "
                "or set mail.ews.autodiscover = true",
            )
        )
    if ews.url and ews.autodiscover:
        problems.append(
            Problem("mail.ews.autodiscover", True, "set either mail.ews.url or this, not both")
        )
    sources = [
        name
        for name, value in (
            ("password", ews.password),
            ("password_file", ews.password_file),
            ("password_env", ews.password_env),
        )
        if value
    ]
    secret = "the client secret" if ews.auth == "oauth" else "the password"
    if not sources:
        problems.append(
            Problem(
                "mail.ews.password",
                _MISSING,
                f"required when {needed_by}: set {secret} with one of mail.ews.password, "
                "mail.ews.password_file or mail.ews.password_env",
            )
        )
    for extra in sources[1:]:
        problems.append(
            Problem(
                f"mail.ews.{extra}",
                str(getattr(ews, extra)),
                f"set only one of mail.ews.{sources[0]} and this",
            )
        )
    if ews.password_file is not None and not ews.password_file.is_file():
        problems.append(Problem("mail.ews.password_file", str(ews.password_file), "no such file"))
    if ews.password_env and not os.environ.get(ews.password_env):
        problems.append(
            Problem(
                "mail.ews.password_env",
                ews.password_env,
                "this environment variable is not set (or empty) for collabd",
            )
        )
    if ews.auth == "oauth":
        for key in ("client_id", "tenant_id"):
            if not getattr(ews, key):
                problems.append(
                    Problem(f"mail.ews.{key}", _MISSING, 'required when mail.ews.auth = "oauth"')
                )
    for key in ("timeout", "poll_interval"):
        if getattr(ews, key).needs_calendar:
            problems.append(
                Problem(f"mail.ews.{key}", str(getattr(ews, key)), "use wall-clock units (s, m, h)")
            )
    for key in ("processed_folder", "quarantine_folder"):
        value = getattr(ews, key)
        if not value.strip("/") or value.strip("/").lower() == ews.folder.strip("/").lower():
            problems.append(
                Problem(
                    f"mail.ews.{key}",
                    value,
                    f"must be a folder other than the watched one ({ews.folder})",
                )
            )
    return problems


def secret_from(password: str, password_file: Path | None, env: str = "") -> str:
    if password_file is not None:
        return password_file.read_text(encoding="utf-8").strip()
    if env:
        return os.environ.get(env, "")
    return password
