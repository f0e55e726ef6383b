"""Pytest plugin: the `ews_server` fixture, a loopback EWS SOAP server with an in-memory
mailbox (tests/ews_server.py). A protocol-level fixture, NOT a live Exchange server: no
Exchange exists here, so exchangelib talks to this instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.app import App
from daemon.clock import FixedClock
from daemon.config import validate
from tests.ews_server import EwsServer

EWS_ADDRESS = "collabd@ews.test"


@pytest.fixture
def ews_server() -> Iterator[EwsServer]:
    with EwsServer(EWS_ADDRESS) as server:
        yield server


def ews_app(tmp_path: Path, db_url: str, server: EwsServer, **overrides) -> App:
    """An App on the ews backend, talking to the loopback server with basic auth."""
    from tests.conftest import START

    ews = {
        "url": server.url,
        "auth": "basic",
        "username": server.username,
        "password": server.password,
        "poll_interval": "1s",
        **overrides,
    }
    settings = validate(
        {
            "daemon": {"data_dir": str(tmp_path / "data-ews")},
            "store": {"url": db_url},
            "mail": {"backend": "ews", "address": server.box.address, "ews": ews},
        },
        "test",
    )
    return App(settings, clock=FixedClock(START))
