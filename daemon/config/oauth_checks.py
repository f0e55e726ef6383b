"""check-config's look at whether [mail.oauth] fits the servers it signs in to: scopes for
the backend, the cloud of the scopes and of the hosts, no bearer token in cleartext, no
Microsoft-only keys for Google; and a warning for secret files others may read.

Each finding names the key an admin edits (exit 78): found here, not as an AADSTS code from
Microsoft at the first sign-in, which does not point back at the config.
"""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from .schema import GRAPH_CLOUDS, Settings

# (key, value, what is wrong): config/loader.py makes them its Problems (file, masking).
Finding = tuple[str, object, str]


def finding(key: str, value: object, message: str) -> Finding:
    return (key, value, message)


# Exchange Online per cloud (mail/oauth/clouds.py has the sign-in side): the resources its
# tokens are for, and the IMAP/SMTP hosts that accept them. Microsoft: "Authenticate an IMAP,
# POP or SMTP connection using OAuth"; "API endpoints of Office 365 operated by 21Vianet".
EXCHANGE = {
    "global": (
        ("https://outlook.office365.com", "https://outlook.office.com"),
        ("outlook.office365.com", "outlook.office.com", "smtp.office365.com"),
    ),
    "china": (("https://partner.outlook.cn",), ("partner.outlook.cn", "smtp.partner.outlook.cn")),
}
OTHER_CLOUD = {"global": "china", "china": "global"}
MICROSOFT_ONLY = ("tenant_id", "authority")


def _resource(scope: str) -> str:
    """`https://outlook.office365.com/.default` → `https://outlook.office365.com`; a bare
    permission name has none."""
    if "://" not in scope:
        return ""
    scheme, rest = scope.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}".lower()


def microsoft_fit_problems(settings: Settings) -> list[Finding]:
    oauth, mail = settings.mail.oauth, settings.mail
    cloud, problems = oauth.cloud, []
    resources = EXCHANGE[cloud][0]
    graph_hosts = {host for _, host in GRAPH_CLOUDS.values()}
    if oauth.scopes and mail.backend == "imap":
        shown = list(oauth.scopes)
        example = f"{resources[0]}/.default"
        if oauth.flow == "app" and (len(shown) != 1 or not shown[0].endswith("/.default")):
            problems.append(
                finding(
                    "mail.oauth.scopes",
                    shown,
                    'the client credentials grant (flow = "app") takes exactly one '
                    f'"<resource>/.default" scope: ["{example}"] (or leave scopes out)',
                )
            )
        for scope in shown:
            resource = _resource(scope)
            if resource in graph_hosts:
                problems.append(
                    finding(
                        "mail.oauth.scopes",
                        shown,
                        f"{resource} is Microsoft Graph: its token cannot sign in to IMAP and "
                        f'SMTP; use ["{example}"] (or leave scopes out), or mail.backend = '
                        '"graph"',
                    )
                )
            elif _cloud_of(resource, 0) == OTHER_CLOUD[cloud]:
                problems.append(
                    finding(
                        "mail.oauth.scopes",
                        shown,
                        f"{resource} is Exchange Online of the other cloud: with "
                        f'mail.oauth.cloud = "{cloud}" the resource is {resources[0]}',
                    )
                )
    if mail.backend == "imap":
        # The token is for one cloud's Exchange (the scopes' resource, else the preset's);
        # the other cloud's servers refuse it.
        given = {_cloud_of(_resource(scope), 0) for scope in oauth.scopes} - {None}
        token_cloud = given.pop() if len(given) == 1 else cloud
        for name in ("imap", "smtp"):
            host = getattr(mail, name).host.lower().rstrip(".")
            host_cloud = _cloud_of(host, 1)
            if host_cloud is not None and host_cloud != token_cloud:
                problems.append(
                    finding(
                        f"mail.{name}.host",
                        host,
                        f'is Exchange Online of cloud = "{host_cloud}", but the token is for '
                        f'{EXCHANGE[token_cloud][0][0]} (cloud = "{token_cloud}"): use '
                        f"{_host(token_cloud, name)}, or set mail.oauth.cloud = "
                        f'"{host_cloud}"',
                    )
                )
    return problems


def _cloud_of(name: str, part: int) -> str | None:
    """The cloud whose Exchange resources (part 0) or hosts (part 1) include `name`."""
    return next((cloud for cloud, known in EXCHANGE.items() if name in known[part]), None)


def _host(cloud: str, name: str) -> str:
    hosts = EXCHANGE[cloud][1]
    return hosts[-1] if name == "smtp" else hosts[0]


def google_unused_problems(settings: Settings) -> list[Finding]:
    """Microsoft's keys beside provider = "google" would be ignored, silently."""
    oauth = settings.mail.oauth
    problems = [
        finding(
            f"mail.oauth.{key}",
            getattr(oauth, key),
            'not used for provider = "google"'
            + (": Google's token endpoint is mail.oauth.token_uri" if key == "authority" else ""),
        )
        for key in MICROSOFT_ONLY
        if getattr(oauth, key)
    ]
    return problems


def cleartext_problems(settings: Settings) -> list[Finding]:
    """An OAuth bearer token over a connection without TLS is the mailbox's key in clear:
    refused, except to a loopback host (a local relay or test server)."""
    mail = settings.mail
    if mail.backend != "imap":
        return []
    return [
        finding(
            f"mail.{name}.security",
            "none",
            f"sends the OAuth access token unencrypted to {section.host}: use "
            f'"{"ssl" if name == "imap" else "starttls"}" (cleartext only to a loopback host)',
        )
        for name, section in (("imap", mail.imap), ("smtp", mail.smtp))
        if section.security == "none" and section.host and not _loopback(section.host)
    ]


def _loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secret_file_warnings(settings: Settings) -> list[str]:
    """Secret files that the group or others may read (the docs ask for 0600)."""
    mail = settings.mail
    files = {
        "mail.oauth.client_secret_file": mail.oauth.client_secret_file,
        "mail.oauth.service_account_file": mail.oauth.service_account_file,
        "mail.imap.password_file": mail.imap.password_file,
        "mail.smtp.password_file": mail.smtp.password_file,
        "mail.graph.client_secret_file": mail.graph.client_secret_file,
    }
    warnings = []
    for key, path in files.items():
        mode = _mode(path)
        if mode is not None and mode & 0o077:
            warnings.append(
                f'{key} = "{path}": readable by others (mode {mode:04o}): it holds a secret; '
                f"chmod 600 {path}"
            )
    return warnings


def _mode(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
