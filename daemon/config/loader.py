"""Loading and validating collabd.toml.

Every problem is reported as `FILE: key.path = value: what is wrong`, all problems at once,
so an admin fixes the file in one go. The CLI turns ConfigError into exit code 78 (EX_CONFIG).
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .graph_app import deprecations, moved_keys_given
from .schema import Settings

log = logging.getLogger("collabd.config")

ENV_VAR = "COLLABD_CONFIG"


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    message: str

    def render(self, source: str) -> str:
        if self.value is _MISSING:
            return f"{source}: {self.key}: {self.message}"
        value = '"****"' if _is_secret(self.key) else _show(self.value)
        return f"{source}: {self.key} = {value}: {self.message}"


# Keys whose value is itself a secret: named in a problem, their value never shown.
_SECRET_KEYS = frozenset({"password", "client_secret", "refresh_token", "access_token"})
# Any other key that looks like one, known or not, misspelt too (`pasword`, `api_key`,
# `smtp_passwd`, `secert`): an unknown key is most often a secret under a wrong name, and
# printing it would put the secret in a terminal's scrollback and the journal.
_SECRET_WORDS = ("password", "passwd", "pass", "pwd", "pw", "secret", "token", "key", "credential")
_SECRET_PART = re.compile(r"pass|pwd|secret|token|key|cred", re.IGNORECASE)
# Keys that name where a secret is, or how long it lives, not the secret itself.
_NOT_SECRET = ("_file", "_env", "_lifetime", "_uri", "_url")


def _is_secret(key: str) -> bool:
    name = key.rpartition(".")[2].lower()
    if name in _SECRET_KEYS:
        return True
    if name.endswith(_NOT_SECRET):
        return False
    if _SECRET_PART.search(name):
        return True
    words = [w for w in re.split(r"[^a-z0-9]+", name) if w]
    return any(difflib.get_close_matches(w, _SECRET_WORDS, n=1, cutoff=0.75) for w in words)


_MISSING = object()
# scheme://user:PASSWORD@host: a database URL carries its password inside the value. The
# password runs to the last `@` before the host (people write `p@ss` unescaped), and a
# libpq-style `?password=` parameter is a password too.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)\S*@")
_QUERY_PASSWORD = re.compile(r"([?&][a-z_]*(?:pass|pwd|secret|token|key)[a-z_]*=)[^&#\s]*", re.I)


def mask_url_password(text: str) -> str:
    """`postgresql://u:secret@h/db` → `postgresql://u:****@h/db`."""
    return _QUERY_PASSWORD.sub(r"\1****", _URL_PASSWORD.sub(r"\1****@", text))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{mask_url_password(value)}"'
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
    from .oauth_checks import secret_file_warnings

    for warning in deprecations(settings) + secret_file_warnings(settings):
        log.warning("%s: %s", source, warning)
    # The rules file is named relative to the config file that names it.
    rules_file = settings.rules.file
    if rules_file is not None and not rules_file.expanduser().is_absolute():
        resolved = path.parent / rules_file
        settings = settings.model_copy(
            update={"rules": settings.rules.model_copy(update={"file": resolved})}
        )
    return settings


# Where the ledger is, read line by line from a file that is not valid TOML.
_SALVAGED = {
    "store": ("url",),
    "daemon": ("data_dir", "timezone"),
}
_LINE = re.compile(r'^\s*(\w+)\s*=\s*"([^"\n]*)"\s*(?:#.*)?$')
_SECTION = re.compile(r"^\s*\[([\w.]+)\]")


def salvage_settings(path: Path | None) -> Settings | None:
    """For `collabd status` when the config on disk is broken: the settings that find the
    ledger (store.url, daemon.data_dir and timezone), if the file still says them validly;
    None if not. Everything else is the defaults."""
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    raw: dict[str, dict[str, str]] = {}
    section = ""
    for line in lines:
        if match := _SECTION.match(line):
            section = match.group(1)
        elif (match := _LINE.match(line)) and match.group(1) in _SALVAGED.get(section, ()):
            raw.setdefault(section, {})[match.group(1)] = match.group(2)
    try:
        return validate(raw, str(path))
    except ConfigError:
        return None


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
    return suggestion(Settings, loc)


def suggestion(root: type[BaseModel], loc: tuple[str, ...]) -> str:
    """`mail.smpt` → (did you mean `mail.smtp`?), found among the keys the section allows.

    Walks `loc` down `root`'s fields (list positions such as `escalations.0` are skipped),
    so the config file and the rules file suggest the same way."""
    model: type[BaseModel] = root
    for part in loc[:-1]:
        if part.isdigit():
            continue
        field = model.model_fields.get(part)
        found = _model_in(getattr(field, "annotation", None))
        if found is None:
            return ""
        model = found
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(loc[-1], allowed, n=1)
    parent = ".".join(loc[:-1])
    if close:
        return f" (did you mean {'.'.join([*loc[:-1], close[0]])}?)"
    return f" ({parent or 'the top level'} allows: {', '.join(allowed)})"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds: itself, or inside list[…] / … | None / Annotated[…]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def semantic_problems(settings: Settings) -> list[Problem]:
    """Checks that span several keys, with the key an admin has to edit."""
    problems: list[Problem] = []
    mail = settings.mail
    if mail.backend == "ews" or settings.calendar.backend == "ews":
        problems += ews_problems(settings)
    if mail.oauth.provider:
        problems += oauth_problems(settings)
    if mail.backend == "graph" or settings.calendar.backend == "graph":
        problems += graph_problems(settings)
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
    problems += secret_source_problems("mail.ews", ews, "password", sources)
    if ews.auth == "oauth":
        for key in ("client_id", "tenant_id"):
            if not getattr(ews, key):
                problems.append(
                    Problem(f"mail.ews.{key}", _MISSING, 'required when mail.ews.auth = "oauth"')
                )
    return problems + mailbox_problems(ews, "mail.ews")


def graph_problems(settings: Settings) -> list[Problem]:
    """[mail.graph]: where Graph is; the app it signs in as is [mail.oauth]'s
    (config/graph_app.py), or, in the deprecated spelling, [mail.graph]'s own ids."""
    graph = settings.mail.graph
    needed_by = (
        'mail.backend = "graph"'
        if settings.mail.backend == "graph"
        else 'calendar.backend = "graph"'
    )
    moved = moved_keys_given(settings)
    if settings.mail.oauth.provider == "microsoft":
        return [
            Problem(
                f"mail.graph.{key}",
                str(getattr(graph, key)),
                "is set in [mail.oauth] too, which Graph signs in with: remove it here",
            )
            for key in moved
        ] + mailbox_problems(graph, "mail.graph")
    if settings.mail.oauth.provider:  # another provider: oauth_problems says what Graph needs
        return mailbox_problems(graph, "mail.graph")
    if not moved:
        missing = [
            Problem(
                "mail.oauth.provider",
                _MISSING,
                f"required when {needed_by}: Graph signs in with [mail.oauth] — provider = "
                '"microsoft", flow = "app", tenant_id, client_id and the client secret '
                "(docs/microsoft365.md)",
            )
        ]
        return missing + mailbox_problems(graph, "mail.graph")
    problems = [
        Problem(f"mail.graph.{key}", _MISSING, f"required when {needed_by} ({what})")
        for key, what in (
            ("tenant_id", "the directory (tenant) id of the app registration"),
            ("client_id", "the application (client) id of the app registration"),
        )
        if not getattr(graph, key)
    ]
    sources = _secret_sources(graph)
    if not sources:
        problems.append(
            Problem(
                "mail.graph.client_secret",
                _MISSING,
                f"required when {needed_by}: set the client secret with one of "
                "mail.graph.client_secret, mail.graph.client_secret_file or "
                "mail.graph.client_secret_env",
            )
        )
    problems += secret_source_problems("mail.graph", graph, "client_secret", sources)
    return problems + mailbox_problems(graph, "mail.graph")


def mailbox_problems(section, prefix: str) -> list[Problem]:
    """Wall-clock timeouts, and filing folders that are not the watched one."""
    problems = []
    for key in ("timeout", "poll_interval"):
        if getattr(section, key).needs_calendar:
            problems.append(
                Problem(
                    f"{prefix}.{key}", str(getattr(section, key)), "use wall-clock units (s, m, h)"
                )
            )
    for key in ("processed_folder", "quarantine_folder"):
        value = getattr(section, key)
        if not value.strip("/") or value.strip("/").lower() == section.folder.strip("/").lower():
            problems.append(
                Problem(
                    f"{prefix}.{key}",
                    value,
                    f"must be a folder other than the watched one ({section.folder})",
                )
            )
    return problems


def oauth_problems(settings: Settings) -> list[Problem]:
    """[mail.oauth]: which provider and flow, and everything that flow needs to get a token
    (checked here so that a typo is found by check-config, not at 3 a.m. by the daemon)."""
    mail = settings.mail
    oauth, problems = mail.oauth, []
    provider, flow = oauth.provider, oauth.flow
    if mail.backend == "graph":
        # Graph signs in with [mail.oauth] as the app itself (config/graph_app.py).
        if (provider, flow) != ("microsoft", "app"):
            problems.append(
                Problem(
                    "mail.oauth.provider" if provider != "microsoft" else "mail.oauth.flow",
                    provider if provider != "microsoft" else flow,
                    'mail.backend = "graph" signs in as the app: needs provider = "microsoft" '
                    'and flow = "app"',
                )
            )
    elif mail.backend != "imap" and settings.calendar.backend != "graph":
        problems.append(
            Problem(
                "mail.oauth.provider",
                provider,
                'signs in to IMAP and SMTP, or to Graph: needs mail.backend = "imap" or '
                f'"graph" (it is "{mail.backend}")',
            )
        )
    for name in ("imap", "smtp"):
        section = getattr(mail, name)
        if section.password or section.password_file:
            key = "password" if section.password else "password_file"
            value = section.password or str(section.password_file)
            problems.append(
                Problem(
                    f"mail.{name}.{key}",
                    value,
                    "set either a password or mail.oauth.provider, not both",
                )
            )
    if provider == "google" and oauth.cloud != "global":
        problems.append(Problem("mail.oauth.cloud", oauth.cloud, "is for Microsoft 365 only"))
    secrets = _secret_sources(oauth)
    needs_secret = (provider, flow) in (("microsoft", "app"), ("google", "delegated"))
    if needs_secret and not secrets:
        what = (
            "the app registration's client secret"
            if provider == "microsoft"
            else ("the installed app's client secret")
        )
        problems.append(
            Problem(
                "mail.oauth.client_secret",
                _MISSING,
                f'required for provider = "{provider}", flow = "{flow}": {what}, from one of '
                "mail.oauth.client_secret, mail.oauth.client_secret_file or "
                "mail.oauth.client_secret_env",
            )
        )
    if secrets and not needs_secret:
        problems.append(
            Problem(
                f"mail.oauth.{secrets[0]}",
                str(getattr(oauth, secrets[0])),
                f'not used for provider = "{provider}", flow = "{flow}": remove it',
            )
        )
    problems += secret_source_problems("mail.oauth", oauth, "client_secret", secrets)
    if provider == "microsoft":
        if not oauth.client_id:
            problems.append(
                Problem(
                    "mail.oauth.client_id",
                    _MISSING,
                    'required for provider = "microsoft": the app registration\'s '
                    "Application (client) ID",
                )
            )
        if not oauth.tenant_id and not oauth.authority:
            problems.append(
                Problem(
                    "mail.oauth.tenant_id",
                    _MISSING,
                    'required for provider = "microsoft": the Directory (tenant) ID',
                )
            )
        problems += microsoft_id_problems("mail.oauth", oauth.tenant_id, oauth.client_id, flow)
    if (
        provider == "google"
        and flow == "delegated"
        and oauth.client_id
        and not oauth.client_id.endswith(GOOGLE_CLIENT_SUFFIX)
    ):
        problems.append(
            Problem(
                "mail.oauth.client_id",
                oauth.client_id,
                "not a Google OAuth client ID: copy the Client ID of the Desktop app from "
                f"Google Cloud console → Credentials (it ends in {GOOGLE_CLIENT_SUFFIX})",
            )
        )
    if oauth.user and not _looks_like_address(oauth.user):
        problems.append(
            Problem(
                "mail.oauth.user",
                oauth.user,
                "the mailbox to sign in to, as a mail address (collab@contoso.com)",
            )
        )
    if provider == "google" and flow == "delegated" and not oauth.client_id:
        problems.append(
            Problem(
                "mail.oauth.client_id",
                _MISSING,
                'required for provider = "google", flow = "delegated": the installed app\'s '
                "client ID",
            )
        )
    if provider == "google" and flow == "app":
        problems += _service_account_problems(oauth.service_account_file)
    elif oauth.service_account_file is not None:
        problems.append(
            Problem(
                "mail.oauth.service_account_file",
                str(oauth.service_account_file),
                'used only with provider = "google", flow = "app"',
            )
        )
    from .oauth_checks import cleartext_problems, google_unused_problems, microsoft_fit_problems

    findings = cleartext_problems(settings)
    if provider == "microsoft":
        findings += microsoft_fit_problems(settings)
    if provider == "google":
        findings += google_unused_problems(settings)
    problems += [Problem(*finding) for finding in findings]
    if oauth.ca_file is not None and not oauth.ca_file.is_file():
        problems.append(Problem("mail.oauth.ca_file", str(oauth.ca_file), "no such file"))
    if oauth.refresh_before.needs_calendar:
        problems.append(
            Problem(
                "mail.oauth.refresh_before",
                str(oauth.refresh_before),
                "use wall-clock units (s, m, h)",
            )
        )
    return problems


def secret_source_problems(prefix: str, section, name: str, sources: list[str]) -> list[Problem]:
    """A secret given as `name`, `name_file` or `name_env`: at most one of them, the file
    there, the variable set. `sources` are the ones set, in that order."""
    problems = [
        Problem(
            f"{prefix}.{extra}",
            str(getattr(section, extra)),
            f"set only one of {prefix}.{sources[0]} and this",
        )
        for extra in sources[1:]
    ]
    path, env = getattr(section, f"{name}_file"), getattr(section, f"{name}_env")
    if path is not None and not path.is_file():
        problems.append(Problem(f"{prefix}.{name}_file", str(path), "no such file"))
    if env and not os.environ.get(env):
        problems.append(
            Problem(
                f"{prefix}.{name}_env",
                env,
                "this environment variable is not set (or empty) for collabd",
            )
        )
    return problems


def _secret_sources(oauth) -> list[str]:
    return [
        name
        for name in ("client_secret", "client_secret_file", "client_secret_env")
        if getattr(oauth, name)
    ]


def _service_account_problems(path: Path | None) -> list[Problem]:
    """The JSON key Google gives for a service account: readable, and the right kind."""
    key = "mail.oauth.service_account_file"
    if path is None:
        return [
            Problem(
                key,
                _MISSING,
                'required for provider = "google", flow = "app": the service account\'s '
                "JSON key file",
            )
        ]
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [Problem(key, str(path), "no such file")]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return [Problem(key, str(path), f"not a readable JSON key file: {exc.__class__.__name__}")]
    missing = [
        field
        for field in ("client_email", "private_key", "token_uri")
        if not isinstance(info, dict) or not info.get(field)
    ]
    if not isinstance(info, dict) or info.get("type") != "service_account" or missing:
        return [
            Problem(
                key,
                str(path),
                'not a service account key (expected "type": "service_account" with '
                "client_email, private_key and token_uri)",
            )
        ]
    if not _private_key_loads(info):
        return [
            Problem(
                key,
                str(path),
                "private_key is not a readable PEM key (damaged or cut while copying?): "
                "download a new JSON key for the service account",
            )
        ]
    return []


def _private_key_loads(info: dict) -> bool:
    """The key is one google-auth can sign with: what the first sign-in would find out."""
    try:
        from google.auth import crypt

        crypt.RSASigner.from_service_account_info(info)
    except ImportError:  # google-auth not installed: the sign-in says so itself
        return True
    except Exception:  # each key backend has its own errors; all mean "unusable"
        return False
    return True


def secret_from(password: str, password_file: Path | None, env: str = "") -> str:
    if password_file is not None:
        return password_file.read_text(encoding="utf-8").strip()
    if env:
        return os.environ.get(env, "")
    return password


GOOGLE_CLIENT_SUFFIX = ".apps.googleusercontent.com"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"(?=.{4,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
# Tenant names that stand for "any tenant": a device-code sign-in may use one, but the client
# credentials grant needs the app's own tenant (Microsoft answers AADSTS700016 / 90002).
_ANY_TENANT = ("common", "organizations", "consumers")


def _looks_like_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and _DOMAIN.fullmatch(domain))


def microsoft_id_problems(prefix: str, tenant_id: str, client_id: str, flow: str) -> list[Problem]:
    """The app registration's ids as the Entra admin center shows them: the Application
    (client) ID is a GUID; the Directory (tenant) ID a GUID or one of the tenant's verified
    domains. A placeholder copied from the docs (<DIRECTORY_TENANT_ID>) or the secret pasted
    into the wrong key is caught here, not as a sign-in error hours later."""
    problems = []
    if client_id and not _GUID.fullmatch(client_id):
        problems.append(
            Problem(
                f"{prefix}.client_id",
                client_id,
                "not an Application (client) ID: copy the GUID from the app registration's "
                "Overview page (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
            )
        )
    if not tenant_id:
        return problems
    if tenant_id.lower() in _ANY_TENANT:
        if flow == "app":
            problems.append(
                Problem(
                    f"{prefix}.tenant_id",
                    tenant_id,
                    'an app signs in to its own tenant (flow = "app"): set the Directory '
                    "(tenant) ID or a verified domain such as contoso.onmicrosoft.com",
                )
            )
    elif not (_GUID.fullmatch(tenant_id) or _DOMAIN.fullmatch(tenant_id)):
        problems.append(
            Problem(
                f"{prefix}.tenant_id",
                tenant_id,
                "not a Directory (tenant) ID: copy the GUID from the app registration's "
                "Overview page, or write a verified domain such as contoso.onmicrosoft.com",
            )
        )
    return problems
