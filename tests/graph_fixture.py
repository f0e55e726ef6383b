"""Pytest plugin: the `graph_server` fixture, a loopback HTTPS server answering Microsoft
Graph and the Microsoft identity platform (tests/graph_server.py). A protocol-level
fixture, NOT a live Microsoft 365 tenant: none exists here, so collabd and msal talk to this
instead, over real TLS (the fixture's own certificate, trusted via REQUESTS_CA_BUNDLE)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from daemon.config.graph_app import MOVED_KEYS
from tests.graph_server import GraphServer

GRAPH_ADDRESS = "collabd@contoso.test"


def start_graph(address: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> GraphServer:
    """A started server whose certificate requests (and so msal) trust."""
    directory.mkdir(parents=True, exist_ok=True)
    server = GraphServer(address, directory)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert_path))
    return server.__enter__()


@pytest.fixture
def graph_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphServer]:
    server = start_graph(GRAPH_ADDRESS, tmp_path / "graph-tls", monkeypatch)
    try:
        yield server
    finally:
        server.__exit__(None, None, None)


def graph_settings(
    tmp_path: Path, db_url: str, server: GraphServer, calendar: str = "imip", **overrides
):
    from tests.conftest import START  # noqa: F401 - the same clock as every other app

    tenant = server.tenant
    # The app registration is said once, in [mail.oauth]; [mail.graph] says where Graph is.
    oauth = {
        "provider": "microsoft",
        "flow": "app",
        "authority": f"{server.url}/{tenant.tenant_id}",
        "tenant_id": tenant.tenant_id,
        "client_id": tenant.client_id,
        "client_secret": tenant.client_secret,
    }
    graph = {"endpoint": server.url, "poll_interval": "1s"}
    for key, value in overrides.items():
        (oauth if key in MOVED_KEYS else graph)[key] = value
    return validate(
        {
            "daemon": {"data_dir": str(tmp_path / "data-graph")},
            "store": {"url": db_url},
            "mail": {
                "backend": "graph",
                "address": tenant.address,
                "graph": graph,
                "oauth": oauth,
            },
            "calendar": {"backend": calendar},
        },
        "test",
    )


def graph_app(tmp_path: Path, db_url: str, server: GraphServer, **overrides) -> App:
    """An App on the graph backend, signing in to the loopback tenant with its secret."""
    from tests.conftest import START

    return App(graph_settings(tmp_path, db_url, server, **overrides), clock=FixedClock(START))
