"""Pytest plugin: the `mailstack` fixture, a real Postfix + Dovecot on loopback.

Enable it with ``pytest_plugins = ["tests.mailstack_fixture"]`` in conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mailstack import MailStack


@pytest.fixture(scope="session")
def mailstack() -> Iterator[MailStack]:
    """One running mail stack for the whole session, stopped at the end.

    Mailboxes persist between tests: use distinct addresses per test, or call
    ``mailstack.clear_mailbox(address)`` first.
    """
    stack = MailStack()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
