"""Reading header values from any mail, however broken: a bad header reads as absent."""

from __future__ import annotations

from email.message import Message


def header_values(message: Message, *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        try:
            values += [str(v) for v in message.get_all(name, [])]
        except Exception:
            continue
    return values
