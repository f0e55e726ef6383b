"""The cause of a change, as the history table records it: a CLI command, a mail, a rule.

A value type below the ledger, so that the mail mechanics (a reply's origin) and the ledger
(writing history) share it without importing each other.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime

from .models import Person, SourceKind


@dataclass(frozen=True)
class Origin:
    """The cause of a change: a CLI command, a mail (its Message-ID), a rule, or collabd."""

    kind: SourceKind
    source: str
    actor: str
    person: Person | None = None
    # A mail's Date header: when the person wrote the change (a reply can arrive late).
    written_at: datetime | None = None

    @classmethod
    def cli(cls, argv: list[str], user: str, person: Person | None = None) -> Origin:
        """A command; made as a person of the ledger (`--as`) or, without one, the OS user."""
        actor = person.email if person is not None else f"cli:{user}"
        return cls(SourceKind.CLI, "collabd " + shlex.join(argv), actor, person)

    @classmethod
    def mail(cls, message_id: str, person: Person, written_at: datetime | None = None) -> Origin:
        return cls(SourceKind.MAIL, message_id, person.email, person, written_at)

    @classmethod
    def rule(cls, rule_id: str, level: int = 0) -> Origin:
        return cls(SourceKind.RULE, f"{rule_id}:{level}", "collabd")

    @classmethod
    def system(cls, what: str) -> Origin:
        return cls(SourceKind.SYSTEM, what, "collabd")
