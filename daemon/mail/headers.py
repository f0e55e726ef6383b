"""Reading header values from any mail, however broken: a bad header reads as absent."""

from __future__ import annotations

from email.message import Message
from email.utils import getaddresses


def header_values(message: Message, *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        try:
            values += [str(v) for v in message.get_all(name, [])]
        except Exception:
            continue
    return values


def addresses(message: Message, *names: str) -> list[str]:
    return [addr.lower() for _, addr in getaddresses(header_values(message, *names)) if addr]
