"""Which app registration Microsoft Graph signs in with: [mail.oauth], the one place for
tenant and client ids.

An Exchange Online setup has one app registration; writing its tenant id, client id and
secret twice ([mail.oauth] for IMAP/SMTP, [mail.graph] for Graph) let the two drift apart.
[mail.graph] now keeps only where Graph is and what it reads (endpoint, user, folders), and
Graph signs in with [mail.oauth] (`provider = "microsoft"`, `flow = "app"`), asking for its
own scope (`<endpoint>/.default`).

The old spelling — tenant_id / client_id / client_secret* / authority under [mail.graph] —
still works when [mail.oauth] names no provider, with a deprecation warning saying where to
move each key; given in both places it is a config error (exit 78), since which one wins
would be a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .schema import GRAPH_CLOUDS, Settings

# The [mail.graph] keys that moved to [mail.oauth].
MOVED_KEYS = (
    "tenant_id",
    "client_id",
    "client_secret",
    "client_secret_file",
    "client_secret_env",
    "authority",
)


@dataclass(frozen=True)
class GraphApp:
    section: str  # where the ids were read: "mail.oauth", or "mail.graph" (deprecated)
    authority: str  # the full sign-in authority, tenant included
    endpoint: str  # Graph's base URL (without /v1.0)
    tenant_id: str
    client_id: str
    client_secret: str
    client_secret_file: Path | None
    client_secret_env: str


def graph_app(settings: Settings) -> GraphApp:
    oauth, graph = settings.mail.oauth, settings.mail.graph
    if oauth.provider == "microsoft":
        login, graph_host = GRAPH_CLOUDS[oauth.cloud]
        return GraphApp(
            "mail.oauth",
            oauth.authority or f"{login}/{oauth.tenant_id}",
            # [mail.graph] cloud/endpoint still choose Graph's host; by default the
            # sign-in's cloud does (21Vianet signs in and serves Graph in China).
            graph.endpoint or (graph_host if graph.cloud == "global" else graph.endpoint_url),
            oauth.tenant_id,
            oauth.client_id,
            oauth.client_secret,
            oauth.client_secret_file,
            oauth.client_secret_env,
        )
    return GraphApp(
        "mail.graph",
        f"{graph.authority_url}/{graph.tenant_id}",
        graph.endpoint_url,
        graph.tenant_id,
        graph.client_id,
        graph.client_secret,
        graph.client_secret_file,
        graph.client_secret_env,
    )


def moved_keys_given(settings: Settings) -> list[str]:
    """The [mail.graph] keys of the old spelling that the file sets."""
    graph = settings.mail.graph
    return [key for key in MOVED_KEYS if getattr(graph, key)]


def deprecations(settings: Settings) -> list[str]:
    """What to move where, for a config still written the old way (warnings, not errors)."""
    if settings.mail.oauth.provider or not _uses_graph(settings):
        return []
    return [
        f"mail.graph.{key} is deprecated: move it to [mail.oauth] as {key} "
        '(with provider = "microsoft" and flow = "app"); Graph signs in with [mail.oauth]'
        for key in moved_keys_given(settings)
    ]


def _uses_graph(settings: Settings) -> bool:
    return "graph" in (settings.mail.backend, settings.calendar.backend)
