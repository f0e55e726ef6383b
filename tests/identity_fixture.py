"""Pytest plugin: the `identity` fixture, the loopback OAuth 2.0 authorization server
(tests/identity_server.py) whose tokens the test mail stack's Dovecot and Postfix accept.
A protocol-level fixture, NOT Microsoft's or Google's identity service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.identity_server import IdentityServer
from tests.mailstack import MailStack


@pytest.fixture(scope="session")
def identity(
    mailstack: MailStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IdentityServer]:
    """Started after the mail stack: its introspection port is the stack's, free once this
    session holds the stack."""
    server = IdentityServer(
        mailstack.introspection_port, Path(tmp_path_factory.mktemp("identity"))
    ).start()
    try:
        yield server
    finally:
        server.stop()
